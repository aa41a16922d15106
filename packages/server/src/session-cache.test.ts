import { afterEach, describe, expect, it, vi } from 'vitest'
import type { SessionRecord } from './session.ts'
import { type Lookup, SessionCache, type SessionSource } from './session-cache.ts'
import type { SessionPolicy } from './vocabulary.ts'

const NOW = Date.parse('2026-11-23T09:00:00Z')
const TTL = 5_000
const POLICY: SessionPolicy = {
  warnAfter: 840,
  expireAfter: 900,
  maxAge: 43_200,
  maxSessions: 0,
  onLimit: 'evict-oldest',
}

/** The row of session `n`, stored under `hash-n`. */
function row(n: number, changes: Partial<SessionRecord> = {}): SessionRecord {
  return {
    id: `id-${n}`,
    userId: `user-${n}`,
    tokenHash: `hash-${n}`,
    createdAt: new Date(NOW),
    lastActivityAt: new Date(NOW),
    expiresAt: new Date(NOW + 3_600_000),
    endedAt: null,
    endReason: null,
    ip: null,
    lastIp: null,
    userAgent: 'ua',
    detail: null,
    idp: null,
    ...changes,
  }
}

/**
 * A source over an in-memory table of rows. `hold()` keeps every read waiting until the
 * returned function is called, so a test can act while loads are in flight.
 */
function fakeSource(rows: SessionRecord[] = []) {
  const table = new Map(rows.map((record) => [record.tokenHash, record]))
  const reads: string[] = []
  const ended: string[] = []
  let held = Promise.resolve()
  let failure: Error | null = null
  const source: SessionSource<null> = {
    read: async (tokenHash) => {
      reads.push(tokenHash)
      await held
      if (failure) throw failure
      const record = table.get(tokenHash)
      return record ? { record, expireAfter: POLICY.expireAfter } : null
    },
    policy: async () => POLICY,
    writeActivity: async () => {},
    activityMoved: () => {},
    onEnded: (sessionId, reason) => void ended.push(`${sessionId} ${reason}`),
    onPolicyChanged: () => {},
  }
  return {
    source,
    table,
    reads,
    ended,
    hold(): () => void {
      let release = () => {}
      held = new Promise((resolve) => {
        release = resolve
      })
      return release
    },
    fail(error: Error | null): void {
      failure = error
    },
  }
}

function cacheOf(fake: ReturnType<typeof fakeSource>, max = 50): SessionCache<null> {
  return new SessionCache({ max, ttl: TTL, touchInterval: 60_000 }, fake.source)
}

/** Puts session `n` in the cache as a login does. */
function addRow(cache: SessionCache<null>, n: number): void {
  const { tokenHash, ...session } = row(n)
  cache.add(tokenHash, session, POLICY, NOW)
}

const kinds = (found: Lookup[]) => found.map((one) => one.kind)

describe('SessionCache loads (one read per hash, outside the LRU)', () => {
  it('concurrent lookups of one hash share one read and get the same entry', async () => {
    const fake = fakeSource([row(1)])
    const cache = cacheOf(fake)
    const release = fake.hold()
    const waiting = [1, 2, 3].map(() => cache.lookup('hash-1', NOW, null))
    release()
    const found = await Promise.all(waiting)
    expect(kinds(found)).toEqual(['live', 'live', 'live'])
    const entries = new Set(found.map((one) => (one.kind === 'live' ? one.entry : null)))
    expect(entries.size).toBe(1)
    expect(fake.reads).toEqual(['hash-1'])
  })

  it('more loads in flight than the cache holds all come back live', async () => {
    const fake = fakeSource([1, 2, 3, 4, 5].map((n) => row(n)))
    const cache = cacheOf(fake, 2)
    const release = fake.hold()
    const waiting = [1, 2, 3, 4, 5].map((n) => cache.lookup(`hash-${n}`, NOW, null))
    release()
    expect(kinds(await Promise.all(waiting))).toEqual(['live', 'live', 'live', 'live', 'live'])
  })

  it('a load in flight evicts no cached session', async () => {
    const fake = fakeSource([row(3)])
    const cache = cacheOf(fake, 2)
    addRow(cache, 1)
    addRow(cache, 2)
    const release = fake.hold()
    const loading = cache.lookup('hash-3', NOW, null)
    expect(cache.fresh('hash-1', NOW)).toBeDefined()
    expect(cache.fresh('hash-2', NOW)).toBeDefined()
    release()
    expect((await loading).kind).toBe('live')
  })

  it('a session evicted while its re-read is in flight is stored again', async () => {
    const fake = fakeSource([row(1)])
    const cache = cacheOf(fake, 1)
    addRow(cache, 1)
    const release = fake.hold()
    const later = NOW + TTL
    const loading = cache.lookup('hash-1', later, null)
    addRow(cache, 2) // the cache holds one session: this evicts session 1
    release()
    expect((await loading).kind).toBe('live')
    expect(cache.fresh('hash-1', later)).toBeDefined()
  })

  it('a re-read keeps the cached entry and its later activity (rule 3)', async () => {
    const fake = fakeSource([row(1)])
    const cache = cacheOf(fake)
    addRow(cache, 1)
    const cached = cache.peek('hash-1')
    if (!cached) throw new Error('session 1 is cached')
    cache.recordActivity(cached, NOW + 2_000, undefined)
    const found = await cache.lookup('hash-1', NOW + TTL, null)
    expect(found).toEqual({ kind: 'live', entry: cached })
    expect(cached.session.lastActivityAt.getTime()).toBe(NOW + 2_000)
    expect(fake.reads).toEqual(['hash-1'])
  })

  it('a failed read rejects every request waiting on it, and the next lookup reads again', async () => {
    const fake = fakeSource([row(1)])
    const cache = cacheOf(fake)
    const release = fake.hold()
    fake.fail(new Error('store down'))
    const waiting = [1, 2].map(() => cache.lookup('hash-1', NOW, null))
    release()
    for (const one of waiting) await expect(one).rejects.toThrow('store down')
    fake.fail(null)
    expect((await cache.lookup('hash-1', NOW, null)).kind).toBe('live')
    expect(fake.reads).toEqual(['hash-1', 'hash-1'])
  })
})

describe('SessionCache ends during a load (rule 2)', () => {
  it('an end during the load is what every waiter sees, and the session is never stored', async () => {
    const fake = fakeSource([row(1)])
    const cache = cacheOf(fake)
    const release = fake.hold()
    const waiting = [1, 2].map(() => cache.lookup('hash-1', NOW, null))
    cache.markEnded('hash-1', 'id-1', 'logout', new Date(NOW))
    release()
    const ended = { kind: 'ended', reason: 'logout' }
    expect(await Promise.all(waiting)).toEqual([ended, ended])
    expect(cache.peek('hash-1')).toBeUndefined()
    expect(await cache.lookup('hash-1', NOW, null)).toEqual(ended)
    expect(fake.reads).toEqual(['hash-1'])
    expect(fake.ended).toEqual(['id-1 logout'])
  })

  it('a rotation during the load leaves the old hash unknown and uncached', async () => {
    const fake = fakeSource([row(1)])
    const cache = cacheOf(fake)
    const release = fake.hold()
    const loading = cache.lookup('hash-1', NOW, null)
    cache.rotate('hash-1', 'hash-1-next')
    release()
    expect(await loading).toEqual({ kind: 'unknown' })
    expect(cache.peek('hash-1')).toBeUndefined()
  })

  it('a row read ended is remembered as ended and reported once (rule 7)', async () => {
    const fake = fakeSource([row(1, { endedAt: new Date(NOW), endReason: 'idle' })])
    const cache = cacheOf(fake)
    const ended = { kind: 'ended', reason: 'idle' }
    expect(await cache.lookup('hash-1', NOW, null)).toEqual(ended)
    expect(await cache.lookup('hash-1', NOW, null)).toEqual(ended)
    expect(fake.reads).toEqual(['hash-1'])
    expect(fake.ended).toEqual(['id-1 idle'])
  })
})

describe('SessionCache misses (their own bounded memory, rule 5)', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it('remembered misses evict no cached session', async () => {
    const fake = fakeSource()
    const cache = cacheOf(fake, 2)
    addRow(cache, 1)
    addRow(cache, 2)
    const unknown = Array.from({ length: 10 }, (_, n) => cache.lookup(`nobody-${n}`, NOW, null))
    expect(kinds(await Promise.all(unknown))).toEqual(Array(10).fill('unknown'))
    expect(cache.fresh('hash-1', NOW)).toBeDefined()
    expect(cache.fresh('hash-2', NOW)).toBeDefined()
  })

  it('a repeated unknown hash is read once while its miss is remembered, and again after', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(NOW)
    const fake = fakeSource()
    const cache = cacheOf(fake)
    expect(await cache.lookup('nobody', NOW, null)).toEqual({ kind: 'unknown' })
    expect(await cache.lookup('nobody', NOW, null)).toEqual({ kind: 'unknown' })
    expect(fake.reads).toEqual(['nobody'])
    // Misses are kept at most 5 s: a token created on another instance does not wait longer.
    vi.setSystemTime(NOW + 5_001)
    expect(await cache.lookup('nobody', NOW + 5_001, null)).toEqual({ kind: 'unknown' })
    expect(fake.reads).toEqual(['nobody', 'nobody'])
  })

  it('add() clears a remembered miss for its hash', async () => {
    const fake = fakeSource()
    const cache = cacheOf(fake)
    expect(await cache.lookup('hash-1', NOW, null)).toEqual({ kind: 'unknown' })
    addRow(cache, 1)
    expect((await cache.lookup('hash-1', NOW, null)).kind).toBe('live')
  })

  it('with cacheTtl 0 no miss is trusted: every lookup reads', async () => {
    const fake = fakeSource()
    const cache = new SessionCache({ max: 50, ttl: 0, touchInterval: 60_000 }, fake.source)
    await cache.lookup('nobody', NOW, null)
    await cache.lookup('nobody', NOW, null)
    expect(fake.reads).toEqual(['nobody', 'nobody'])
  })
})

describe('SessionCache activity (kept to the second)', () => {
  /** A cache holding session 1, signed in at NOW. */
  function signedIn() {
    const cache = cacheOf(fakeSource())
    addRow(cache, 1)
    const entry = cache.peek('hash-1')
    if (!entry) throw new Error('session 1 is cached')
    return { cache, entry }
  }

  it('a request within the second of the last activity, with no write due, has none to record', () => {
    const { cache, entry } = signedIn()
    expect(cache.activityNews(entry, NOW + 999)).toBe(false)
    expect(cache.activityNews(entry, NOW + 1_000)).toBe(true)
    cache.recordActivity(entry, NOW + 1_000, '203.0.113.7')
    expect(entry.session.lastActivityAt.getTime()).toBe(NOW + 1_000)
    expect(entry.session.lastIp).toBe('203.0.113.7')
    expect(cache.activityNews(entry, NOW + 1_999)).toBe(false)
    // A write due (a write interval after the last one that counted) is news within a second.
    const due = NOW + entry.writeInterval
    cache.recordActivity(entry, due - 500, undefined)
    expect(cache.activityNews(entry, due - 1)).toBe(false)
    expect(cache.activityNews(entry, due)).toBe(true)
  })

  it('an ended session has no activity to record', () => {
    const { cache, entry } = signedIn()
    entry.session.endedAt = new Date(NOW)
    expect(cache.activityNews(entry, NOW + 5_000)).toBe(false)
  })
})
