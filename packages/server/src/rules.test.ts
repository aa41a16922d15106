import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  expiryReason,
  type HeldRoute,
  type HoldVerdict,
  holdAllows,
  holdVerdict,
  judge,
  type Limits,
  passesAsCached,
  planSignIn,
  type RequestFacts,
  reconcileLastActivity,
  type SessionFacts,
  type StoredSession,
  storedExpiry,
} from './rules.ts'
import { CHROME_120, CHROME_121, FIREFOX_120 } from './test-support/app.ts'
import { END_REASONS } from './vocabulary.ts'

const NOW = Date.parse('2026-11-23T12:00:00Z')
const LIMITS: Limits = { expireAfter: 900, maxAge: 43_200 }

function session(overrides: Partial<SessionFacts> & { idle?: number; left?: number } = {}) {
  const { idle = 0, left = 3600, ...rest } = overrides
  return {
    createdAt: new Date(NOW - 3600_000),
    lastActivityAt: new Date(NOW - idle * 1000),
    expiresAt: new Date(NOW + left * 1000),
    endedAt: null,
    endReason: null,
    userAgent: CHROME_120,
    ...rest,
  } satisfies SessionFacts
}

function request(overrides: Partial<RequestFacts> = {}): RequestFacts {
  return {
    now: NOW,
    userAgent: CHROME_120,
    binding: 'browser',
    activityIsAuthoritative: false,
    ...overrides,
  }
}

describe('expiryReason', () => {
  it.each([
    ['active and within maxAge', 899, 3600, null],
    ['idle exactly expireAfter', 900, 3600, 'idle'],
    ['past maxAge while active', 0, 0, 'absolute'],
    ['idle and past maxAge: absolute wins', 5000, -1, 'absolute'],
  ])('%s', (_name, idle, left, reason) => {
    expect(expiryReason(session({ idle, left }), NOW, LIMITS)).toBe(reason)
  })

  it('a maxAge shortened after login ends the session at createdAt + maxAge', () => {
    const s = session({ left: 3600 })
    expect(expiryReason(s, NOW, { expireAfter: 900, maxAge: 3600 })).toBe('absolute')
    expect(expiryReason(s, NOW, { expireAfter: 900, maxAge: 7200 })).toBeNull()
    expect(expiryReason(s, NOW + 3600_000, { expireAfter: 900, maxAge: 99_999 })).toBe('absolute')
  })
})

describe('judge: the verdict for a request', () => {
  const ended = (reason: string, endNow: boolean) => ({ kind: 'ended', reason, endNow })
  it.each([
    ['a live session, same user agent', {}, {}, { kind: 'live', adoptUserAgent: false }],
    [
      'a browser update passes and is adopted',
      {},
      { userAgent: CHROME_121 },
      { kind: 'live', adoptUserAgent: true },
    ],
    ['another browser ends it', {}, { userAgent: FIREFOX_120 }, ended('user_agent_changed', true)],
    [
      'strict binding: a browser update ends it',
      {},
      { userAgent: CHROME_121, binding: 'strict' },
      ended('user_agent_changed', true),
    ],
    [
      'binding off: another browser passes',
      {},
      { userAgent: FIREFOX_120, binding: 'off' },
      { kind: 'live', adoptUserAgent: true },
    ],
    ['idle on cached activity: unknown until re-read', { idle: 900 }, {}, { kind: 'unknown' }],
    [
      'idle on authoritative activity: ends idle',
      { idle: 900 },
      { activityIsAuthoritative: true },
      ended('idle', true),
    ],
    ['past its absolute end: ends at once, stale or not', { left: 0 }, {}, ended('absolute', true)],
    ['absolute wins over idle', { idle: 5000, left: -1 }, {}, ended('absolute', true)],
    [
      'expiry wins over a user-agent change',
      { left: 0 },
      { userAgent: FIREFOX_120 },
      ended('absolute', true),
    ],
    [
      'ended already: refused with its reason, nothing to end',
      { endedAt: new Date(NOW), endReason: 'logout' as const },
      {},
      ended('logout', false),
    ],
    [
      'ended without a reason reads as revoked',
      { endedAt: new Date(NOW) },
      {},
      ended('revoked', false),
    ],
  ] as const)('%s', (_name, facts, req, verdict) => {
    expect(judge(session(facts), LIMITS, request(req))).toMatchObject(verdict)
  })

  it('a user-agent end says from what to what', () => {
    const verdict = judge(session(), LIMITS, request({ userAgent: FIREFOX_120 }))
    expect(verdict.kind === 'ended' && verdict.detail).toBe(
      `user agent changed from ${JSON.stringify(CHROME_120)} to ${JSON.stringify(FIREFOX_120)}`,
    )
  })

  it('the fast path passes exactly the live, unchanged, same-string sessions', () => {
    expect(passesAsCached(session(), LIMITS, NOW, CHROME_120)).toBe(true)
    expect(passesAsCached(session(), LIMITS, NOW, CHROME_121)).toBe(false)
    expect(passesAsCached(session({ idle: 900 }), LIMITS, NOW, CHROME_120)).toBe(false)
    expect(passesAsCached(session({ endedAt: new Date(NOW) }), LIMITS, NOW, CHROME_120)).toBe(false)
  })
})

// Properties over any session, limits, time and request.
const arbitraryLimits = fc.record({
  expireAfter: fc.integer({ min: 1, max: 100_000 }),
  maxAge: fc.integer({ min: 1, max: 1_000_000 }),
})
const arbitrarySession = fc.record({
  createdAt: fc.integer({ min: -2_000_000, max: 0 }).map((s) => new Date(NOW + s * 1000)),
  lastActivityAt: fc.integer({ min: -2_000_000, max: 0 }).map((s) => new Date(NOW + s * 1000)),
  expiresAt: fc.integer({ min: -1_000_000, max: 1_000_000 }).map((s) => new Date(NOW + s * 1000)),
  endedAt: fc.option(fc.constant(new Date(NOW))),
  endReason: fc.option(fc.constantFrom(...END_REASONS)),
  userAgent: fc.constantFrom(CHROME_120, CHROME_121, FIREFOX_120),
})
const arbitraryRequest = fc.record({
  now: fc.integer({ min: 0, max: 2_000_000 }).map((s) => NOW + s * 1000),
  userAgent: fc.constantFrom(CHROME_120, CHROME_121, FIREFOX_120),
  binding: fc.constantFrom('strict' as const, 'browser' as const, 'off' as const),
  activityIsAuthoritative: fc.boolean(),
})

describe('properties', () => {
  it('an ended session never becomes live, whatever the time, limits or request', () => {
    fc.assert(
      fc.property(arbitrarySession, arbitraryLimits, arbitraryRequest, (s, limits, req) => {
        fc.pre(s.endedAt !== null)
        const verdict = judge(s, limits, req)
        return verdict.kind === 'ended' && !verdict.endNow
      }),
    )
  })

  it('idle exactly when the idle time reached the limit (on authoritative activity, before the absolute end)', () => {
    fc.assert(
      fc.property(arbitrarySession, arbitraryLimits, arbitraryRequest, (s, limits, req) => {
        const live = { ...s, endedAt: null }
        const verdict = judge(live, limits, { ...req, activityIsAuthoritative: true })
        const beforeEnd =
          req.now <
          Math.min(live.expiresAt.getTime(), live.createdAt.getTime() + limits.maxAge * 1000)
        const idleReached = req.now - live.lastActivityAt.getTime() >= limits.expireAfter * 1000
        const isIdle = verdict.kind === 'ended' && verdict.reason === 'idle'
        return isIdle === (beforeEnd && idleReached)
      }),
    )
  })

  it('a verdict never moves from live to ended because activity moved forward', () => {
    fc.assert(
      fc.property(
        arbitrarySession,
        arbitraryLimits,
        arbitraryRequest,
        fc.integer({ min: 0, max: 1_000_000 }),
        (s, limits, req, later) => {
          const live = { ...s, endedAt: null }
          const fresher = {
            ...live,
            lastActivityAt: new Date(live.lastActivityAt.getTime() + later * 1000),
          }
          fc.pre(fresher.lastActivityAt.getTime() <= req.now)
          const before = judge(live, limits, req)
          const after = judge(fresher, limits, req)
          return before.kind !== 'live' || after.kind === 'live'
        },
      ),
    )
  })

  it('the stored judgement ends idle only past the limit plus the write margin', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 200_000 }),
        fc.integer({ min: 1, max: 100_000 }),
        fc.integer({ min: 0, max: 60 }),
        (idle, expireAfter, marginSeconds) => {
          const stored = storedSession({ idle, expireAfter })
          const reason = storedExpiry(stored, NOW, marginSeconds * 1000)
          return (reason === 'idle') === idle >= expireAfter + marginSeconds
        },
      ),
    )
  })
})

function storedSession(
  overrides: Partial<StoredSession> & { idle?: number; id?: string } = {},
): StoredSession {
  const { idle = 0, ...rest } = overrides
  return {
    id: 'a',
    createdAt: new Date(NOW - 3600_000),
    expiresAt: new Date(NOW + 3600_000),
    storedActivityAt: NOW - idle * 1000,
    knownActivityAt: 0,
    expireAfter: 900,
    ...rest,
  }
}

describe('storedExpiry: the sweep, the cap and the live views', () => {
  it('judges by the idle limit in force for that session, not the ward default', () => {
    const longIdle = storedSession({ idle: 700, expireAfter: 600 })
    expect(storedExpiry(longIdle, NOW, 60_000)).toBe('idle')
    expect(storedExpiry({ ...longIdle, expireAfter: 900 }, NOW, 60_000)).toBeNull()
  })

  it('activity this instance knows and the row lacks spares the session', () => {
    const stored = storedSession({ idle: 1000, knownActivityAt: NOW - 10_000 })
    expect(storedExpiry(stored, NOW, 60_000)).toBeNull()
  })

  it('past the row’s absolute end: absolute', () => {
    const stored = storedSession({ expiresAt: new Date(NOW) })
    expect(storedExpiry(stored, NOW, 60_000)).toBe('absolute')
  })
})

describe('planSignIn: the cap', () => {
  const rows = [
    storedSession({ id: 'recent', idle: 10 }),
    storedSession({ id: 'older', idle: 100 }),
    storedSession({ id: 'oldest-login', idle: 100, createdAt: new Date(NOW - 7200_000) }),
    storedSession({ id: 'idle', idle: 2000 }),
    storedSession({ id: 'over', expiresAt: new Date(NOW - 1) }),
  ]
  it('expired sessions end with their true reason and never count', () => {
    const plan = planSignIn(rows, { maxSessions: 4, onLimit: 'deny' }, NOW, 60_000)
    expect(plan).toEqual({
      expired: new Map([
        ['idle', ['idle']],
        ['absolute', ['over']],
      ]),
      evict: [],
      deny: false,
    })
  })

  it('evict-oldest takes the least recently active, ties by the oldest login', () => {
    const plan = planSignIn(rows, { maxSessions: 2, onLimit: 'evict-oldest' }, NOW, 60_000)
    expect(plan.evict).toEqual(['oldest-login', 'older'])
  })

  it('deny refuses when there is no room, and evicts nothing', () => {
    const plan = planSignIn(rows, { maxSessions: 3, onLimit: 'deny' }, NOW, 60_000)
    expect(plan.deny).toBe(true)
    expect(plan.evict).toEqual([])
  })

  it('maxSessions 0 is no cap', () => {
    const plan = planSignIn(rows, { maxSessions: 0, onLimit: 'deny' }, NOW, 60_000)
    expect(plan).toMatchObject({ evict: [], deny: false })
  })

  it('any rows and cap K: K-1 live remain for the new one, the evicted are the least recently active', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 800 }), { maxLength: 20 }),
        fc.integer({ min: 1, max: 10 }),
        (idles, cap) => {
          const stored = idles.map((idle, i) => storedSession({ id: `s${i}`, idle }))
          const plan = planSignIn(stored, { maxSessions: cap, onLimit: 'evict-oldest' }, NOW, 0)
          const kept = stored.filter((s) => !plan.evict.includes(s.id))
          const keptMin = Math.min(...kept.map((s) => s.storedActivityAt))
          const evictedMax = Math.max(
            ...stored.filter((s) => plan.evict.includes(s.id)).map((s) => s.storedActivityAt),
          )
          return (
            kept.length === Math.min(stored.length, cap - 1) &&
            (plan.evict.length === 0 || evictedMax <= keptMin)
          )
        },
      ),
    )
  })
})

describe('reconcileLastActivity', () => {
  it.each([
    ['client saw more recent activity: it wins', NOW - 100_000, 10, NOW - 10_000],
    ['client is older: the server is not rewound', NOW - 10_000, 100, NOW - 10_000],
    ['both agree', NOW - 30_000, 30, NOW - 30_000],
    ['client reports no idle at all', NOW - 60_000, 0, NOW],
    ['server activity in the future (clock step): capped at now', NOW + 5_000, 10, NOW],
  ])('%s', (_name, serverLastActivity, idleFor, expected) => {
    expect(reconcileLastActivity(serverLastActivity, NOW, idleFor)).toBe(expected)
  })
})

describe('holdVerdict and holdAllows (newDevice.hold)', () => {
  it.each([
    [null, 'pass'],
    [NOW + 1, 'held'],
    [NOW + 900_000, 'held'],
    [NOW, 'lapsed'],
    [NOW - 1, 'lapsed'],
  ] as const)('held until %s → %s', (heldUntil, verdict) => {
    expect(holdVerdict(heldUntil, NOW)).toBe(verdict)
  })

  const table: [HoldVerdict, HeldRoute, boolean][] = [
    ['pass', 'ping', true],
    ['pass', 'other', true],
    ['held', 'ping', true],
    ['held', 'events', true],
    ['held', 'logout', true],
    ['held', 'other', false],
    ['lapsed', 'ping', false],
    ['lapsed', 'logout', false],
    ['lapsed', 'other', false],
  ]
  it.each(table)('%s session to %s → %s', (verdict, route, allowed) => {
    expect(holdAllows(verdict, route)).toBe(allowed)
  })
})
