import { describe, expect, test } from 'vitest'
import {
  backoff,
  countdown,
  dueAt,
  type Effect,
  LOGOUT_WAIT,
  type MachineEvent,
  type MachineState,
  NEVER,
  nextCheck,
  REQUEST_TIMEOUT,
  remaining,
  reportAt,
  type ServerView,
  type ShareMessage,
  STOPPED,
  type Status,
  shared,
  step,
} from './machine.ts'

const W = 20_000
const E = 30_000
const s = (seconds: number): number => seconds * 1000
/** A moment in the test's day (real timestamps are far from NEVER = 0). */
const T0 = Date.UTC(2030, 0, 1)
const at = (second: number): number => T0 + s(second)

type Action =
  | 'check'
  | 'activity'
  | 'stay'
  | 'unreachable'
  | { answer: ServerView }
  | { ended: string }
  | { follower: number }

/** The effects that share a message with the other tabs: each is the message itself. */
const SHARED = ['activity', 'pinged', 'sync', 'visibility', 'unconfirmed', 'new-device']
const isShare = (effect: Effect): effect is ShareMessage => SHARED.includes(effect.type)
/** An effect by its type; a shared message as `share` and its type. */
const label = (effect: Effect): string => (isShare(effect) ? `share ${effect.type}` : effect.type)

/** [second, action, status after it, effects other than sharing]. */
type Row = [number, Action, Status, string[]?]

/** Runs a script like the ward does: every event is followed by a check as the leader. */
function play(rows: Row[]): MachineState {
  let state = step(STOPPED, { type: 'start', now: T0, warnAfter: W, expireAfter: E }).state
  for (const [second, action, status, effects = []] of rows) {
    const now = at(second)
    const seen: string[] = []
    const run = (event: MachineEvent): void => {
      const result = step(state, event)
      state = result.state
      for (const effect of result.effects) {
        if (effect.type === 'ping') seen.push('ping')
        // The one logout request this tab sends when it decides the end; 'end' when it does not.
        if (effect.type === 'logout') seen.push('logout')
        if (effect.type === 'end' && !result.effects.some(({ type }) => type === 'logout')) {
          seen.push('end')
        }
      }
    }
    if (typeof action === 'object' && 'follower' in action) {
      run({ type: 'check', now, delay: action.follower })
    } else {
      if (action === 'activity' || action === 'stay') {
        run({ type: 'activity', at: now, now, extend: action === 'stay', remote: false })
      } else if (action === 'unreachable') {
        run({ type: 'unreachable', now })
      } else if (typeof action === 'object' && 'answer' in action) {
        // The table speaks the server's seconds; the machine takes milliseconds.
        const view = Object.fromEntries(Object.entries(action.answer).map(([k, v]) => [k, s(v)]))
        run({ type: 'answer', now, sentAt: state.lastPingAt, view })
      } else if (typeof action === 'object' && 'ended' in action) {
        run({ type: 'ended', now, reason: action.ended })
      }
      run({ type: 'check', now, delay: 0 })
    }
    expect([second, action, state.status, seen]).toEqual([second, action, status, effects])
  }
  return state
}

/** Start, and the first ping answered: the server saw the page load just now. */
const opened: Row[] = [
  [0, 'check', 'active', ['ping']],
  [0, { answer: { idleFor: 0 } }, 'active'],
]

describe('state machine', () => {
  const table: Array<[string, Row[], Partial<MachineState>?]> = [
    [
      'activity before the warning moves the deadline',
      [
        ...opened,
        // Activity after a quiet spell is reported at once (the heartbeat was due).
        [15, 'activity', 'active', ['ping']],
        [15, { answer: { idleFor: 0 } }, 'active'],
        [16, 'activity', 'active'],
        [22.4, 'check', 'active'],
        [22.5, 'check', 'active', ['ping']],
        [22.5, { answer: { idleFor: 6.5 } }, 'active'],
        [35, 'check', 'active'],
        [36, 'check', 'active', ['ping']],
        [36, { answer: { idleFor: 20 } }, 'warning'],
      ],
    ],
    [
      'warning, then stay: active again and the server hears it at once',
      [
        ...opened,
        [20, 'check', 'active', ['ping']],
        [20, { answer: { idleFor: 20 } }, 'warning'],
        [25, 'stay', 'active', ['ping']],
        [25, { answer: { idleFor: 0 } }, 'active'],
        [44, 'check', 'active'],
      ],
    ],
    [
      'warning, then expiry confirmed by the server, which sends the one logout',
      [
        ...opened,
        [20, 'check', 'active', ['ping']],
        [20, { answer: { idleFor: 20 } }, 'warning'],
        [29, 'check', 'warning'],
        [30, 'check', 'warning', ['ping']],
        [30, { ended: 'idle' }, 'expired', ['logout']],
      ],
      { reason: 'idle' },
    ],
    [
      'the server knows of more recent activity (another device): no warning',
      [
        ...opened,
        [20, 'check', 'active', ['ping']],
        [20, { answer: { idleFor: 4 } }, 'active'],
        [35, 'check', 'active'],
        [36, 'check', 'active', ['ping']],
      ],
      { lastActivity: at(16) },
    ],
    [
      'a 401 in the middle of the warning ends it with the server reason',
      [
        ...opened,
        [20, 'check', 'active', ['ping']],
        [20, { answer: { idleFor: 20 } }, 'warning'],
        [24, 'stay', 'active', ['ping']],
        [24, { ended: 'revoked' }, 'expired', ['logout']],
      ],
      { reason: 'revoked' },
    ],
    [
      'network down: the warning still shows, and past expireAfter the tab logs out (fail safe)',
      [
        ...opened,
        [20, 'check', 'active', ['ping']],
        [20, 'unreachable', 'warning'],
        [21, 'check', 'warning', ['ping']],
        [21, 'unreachable', 'warning'],
        [22, 'check', 'warning'],
        [23, 'check', 'warning', ['ping']],
        [23, 'unreachable', 'warning'],
        [30, 'check', 'warning', ['ping']],
        [30, 'unreachable', 'expired', ['logout']],
      ],
      { reason: 'idle', failures: 4 },
    ],
    [
      'network down while the user is active: retries with backoff, never expires',
      [
        ...opened,
        [5, 'activity', 'active'],
        [7.5, 'check', 'active', ['ping']],
        [7.5, 'unreachable', 'active'],
        [8, 'activity', 'active'],
        [8.5, 'check', 'active', ['ping']],
        [8.5, 'unreachable', 'active'],
        [10, 'activity', 'active'],
        [10.5, 'check', 'active', ['ping']],
        [10.5, { answer: { idleFor: 0.5 } }, 'active'],
      ],
      { failures: 0 },
    ],
    [
      'a two-hour sleep is resolved by a ping on wake, not a blind logout',
      [
        ...opened,
        [7200, 'check', 'active', ['ping']],
        [7200, { answer: { idleFor: 12 } }, 'active'],
      ],
      { lastActivity: at(7188) },
    ],
    [
      'a two-hour sleep the server confirms ends the session',
      [
        ...opened,
        [7200, 'check', 'active', ['ping']],
        [7200, { ended: 'idle' }, 'expired', ['logout']],
      ],
    ],
    [
      'a timer 70 s late (background throttling) asks before it acts',
      [
        ...opened,
        [20, 'check', 'active', ['ping']],
        [20, { answer: { idleFor: 20 } }, 'warning'],
        [100, 'check', 'warning', ['ping']],
        [100, { answer: { idleFor: 1 } }, 'active'],
      ],
    ],
    [
      'a timer 70 s late with nobody active expires once the server agrees',
      [
        ...opened,
        [90, 'check', 'active', ['ping']],
        [90, { answer: { idleFor: 90 } }, 'expired', ['logout']],
      ],
    ],
    [
      "the server's timings replace the local ones",
      [
        [0, 'check', 'active', ['ping']],
        [0, { answer: { idleFor: 0, warnAfter: 50, expireAfter: 60 } }, 'active'],
        [20, 'check', 'active'],
        [50, 'check', 'active', ['ping']],
      ],
      { warnAfter: 50_000, expireAfter: 60_000 },
    ],
    [
      'the absolute end (maxAge) is checked with the server when it comes',
      [
        [0, 'check', 'active', ['ping']],
        [0, { answer: { idleFor: 0, expiresIn: 12 } }, 'active'],
        [5, 'activity', 'active'],
        [7.5, 'check', 'active', ['ping']],
        [7.5, { answer: { idleFor: 2.5, expiresIn: 4.5 } }, 'active'],
        [12, 'check', 'active', ['ping']],
        [12, { ended: 'absolute' }, 'expired', ['logout']],
      ],
    ],
    [
      'a follower waits for the leader, then pings once per deadline',
      [
        ...opened,
        [20, { follower: s(4) }, 'active'],
        [23.9, { follower: s(4) }, 'active'],
        [24, { follower: s(4) }, 'active', ['ping']],
        [24, 'unreachable', 'warning'],
        [25, { follower: s(4) }, 'warning'],
      ],
    ],
  ]

  test.each(table)('%s', (_name, rows, expected = {}) => {
    expect(play(rows)).toMatchObject(expected)
  })

  test('a steady user costs one heartbeat per expireAfter/4, not one per activity', () => {
    let state = step(STOPPED, { type: 'start', now: T0, warnAfter: W, expireAfter: E }).state
    let pings = 0
    for (let t = T0; t <= at(60); t += 1000) {
      for (const event of [
        { type: 'activity', at: t, now: t, extend: false, remote: false },
        { type: 'check', now: t, delay: 0 },
      ] as MachineEvent[]) {
        const result = step(state, event)
        state = result.state
        if (result.effects.some((effect) => effect.type === 'ping')) {
          pings++
          state = step(state, { type: 'answer', now: t, sentAt: t, view: { idleFor: 0 } }).state
        }
      }
    }
    // The start ping, then one per heartbeat (7.5 s, seen at the next whole-second check: 8 s).
    expect(pings).toBe(1 + 7)
    expect(state.status).toBe('active')
  })

  test('a clock set back does not postpone the next heartbeat', () => {
    let state = play([...opened, [5, 'activity', 'active']])
    state = step(state, { type: 'check', now: at(5) - 3_600_000, delay: 0 }).state
    expect(state.lastActivity).toBe(at(5) - 3_600_000)
    // The activity at 5 s is still unreported, so a heartbeat is due 7.5 s after the last ping.
    expect(dueAt(state)).toBe(at(7.5) - 3_600_000)
  })

  test('idleFor is never negative and keeps millisecond precision', () => {
    const started = step(STOPPED, { type: 'start', now: at(1), warnAfter: W, expireAfter: E })
    const { effects } = step(started.state, { type: 'check', now: at(1.2345), delay: 0 })
    expect(effects[0]).toEqual({ type: 'ping', idleFor: 234.5 })
  })

  test('nothing happens after expiry (its logout settled) or before start', () => {
    const ended = play([
      ...opened,
      [1, 'stay', 'active', ['ping']],
      [1, { ended: 'admin' }, 'expired', ['logout']],
    ])
    const expired = step(ended, { type: 'loggedOut', now: at(1.1), done: true }).state
    for (const state of [expired, STOPPED]) {
      const events: MachineEvent[] = [
        { type: 'check', now: at(100), delay: 0 },
        { type: 'activity', at: at(100), now: at(100), extend: true, remote: false },
        { type: 'logout', now: at(100) },
        { type: 'sync', shared: { ...shared(expired), status: 'active', changedAt: at(200) } },
        { type: 'answer', now: at(100), sentAt: at(99), view: { idleFor: 0 } },
        { type: 'unreachable', now: at(100) },
        { type: 'ended', now: at(100), reason: 'admin' },
      ]
      for (const event of events) expect(step(state, event)).toEqual({ state, effects: [] })
    }
    expect(remaining(expired, at(2))).toBe(0)
    expect(nextCheck(expired, 0)).toBeNull()
  })

  test('backoff doubles up to a minute', () => {
    expect([1, 2, 3, 4, 7, 8, 30].map(backoff)).toEqual([
      1000, 2000, 4000, 8000, 60_000, 60_000, 60_000,
    ])
  })
})

describe('what tabs share', () => {
  const base = play([...opened, [20, 'check', 'active', ['ping']]])
  const warned = step(base, {
    type: 'answer',
    now: at(20),
    sentAt: at(20),
    view: { idleFor: s(20) },
  }).state

  test("another tab's warning shows here, with the same deadline", () => {
    const follower = play(opened)
    const { state } = step(follower, { type: 'sync', shared: shared(warned) })
    expect(state.status).toBe('warning')
    expect(remaining(state, at(25))).toBe(s(5))
  })

  test('activity here that the warning tab had not seen keeps this tab active', () => {
    const follower = play([...opened, [20, 'activity', 'active', ['ping']]])
    expect(step(follower, { type: 'sync', shared: shared(warned) }).state.status).toBe('active')
  })

  test('a stale message cannot undo a newer decision', () => {
    const stale = { ...shared(warned), status: 'active' as const, changedAt: at(1) }
    expect(step(warned, { type: 'sync', shared: stale }).state.status).toBe('warning')
  })

  test('activity from another tab dismisses the warning and owes the server a ping', () => {
    const { state, effects } = step(warned, {
      type: 'activity',
      at: at(22),
      now: at(22),
      extend: false,
      remote: true,
    })
    expect(state.status).toBe('active')
    expect(effects).toEqual([])
    expect(dueAt(state)).toBe(at(22))
  })

  test('an expiry decided elsewhere ends this tab without a second logout', () => {
    const ended = {
      ...shared(warned),
      status: 'expired' as const,
      reason: 'idle',
      changedAt: at(30),
    }
    const { state, effects } = step(play(opened), { type: 'sync', shared: ended })
    expect(state).toMatchObject({ status: 'expired', reason: 'idle' })
    // It leaves the channel and the page at once: the tab that decided tells the others.
    expect(effects).toEqual([{ type: 'end' }, { type: 'close' }, { type: 'leave' }])
  })

  test('"stay" is sent by the tab where it was chosen, announced before the activity', () => {
    const here = step(warned, {
      type: 'activity',
      at: at(25),
      now: at(25),
      extend: true,
      remote: false,
    })
    expect(here.effects.map(label)).toEqual(['ping', 'share pinged', 'share activity'])
    // The leader learns of the ping first, so the activity owes the server nothing more.
    let leader = step(warned, { type: 'pinged', at: at(25) }).state
    leader = step(leader, {
      type: 'activity',
      at: at(25),
      now: at(25),
      extend: true,
      remote: true,
    }).state
    expect(step(leader, { type: 'check', now: at(25), delay: 0 }).effects).toEqual([])
  })

  test('a page back from the back/forward cache hides, then asks the server before anything else', () => {
    const { state, effects } = step(warned, { type: 'check', now: at(21), delay: 2000, ask: true })
    expect(state.inFlight).toBe(true)
    expect(effects.slice(0, 2)).toEqual([
      { type: 'veil', hidden: true },
      { type: 'ping', idleFor: s(21) },
    ])
    expect(step(STOPPED, { type: 'check', now: at(21), delay: 0, ask: true }).effects).toEqual([])
  })

  test("another tab's ping covers this tab's deadline", () => {
    const follower = play(opened)
    const pinged = step(follower, { type: 'pinged', at: at(20) }).state
    expect(step(pinged, { type: 'check', now: at(21), delay: 2000 }).effects).toEqual([])
  })
})

describe('the events channel', () => {
  const started = step(STOPPED, {
    type: 'start',
    now: T0,
    warnAfter: W,
    expireAfter: E,
    events: true,
  }).state
  const kinds = (effects: Effect[]): string[] =>
    effects.filter((effect) => !isShare(effect)).map((effect) => effect.type)

  test('only the elected leader opens it; after a failure it waits 1 s, 2 s, … and resets on a policy event', () => {
    expect(kinds(step(started, { type: 'check', now: T0, delay: s(2) }).effects)).toEqual([])
    let { state, effects } = step(started, { type: 'check', now: T0, delay: 0, leader: true })
    expect(kinds(effects)).toEqual(['listen', 'ping'])
    state = step(state, { type: 'answer', now: T0, sentAt: T0, view: {} }).state
    state = step(state, { type: 'lost', now: at(1) }).state
    expect(nextCheck(state, 0, true)).toBe(at(2))
    expect(nextCheck(state, s(2), false)).toBe(at(20) + s(2))
    expect(
      kinds(step(state, { type: 'check', now: at(1.5), delay: 0, leader: true }).effects),
    ).toEqual([])
    ;({ state, effects } = step(state, { type: 'check', now: at(2), delay: 0, leader: true }))
    expect(kinds(effects)).toEqual(['listen'])
    state = step(state, { type: 'lost', now: at(2) }).state
    expect(nextCheck(state, 0, true)).toBe(at(4))
    ;({ state } = step(state, { type: 'check', now: at(4), delay: 0, leader: true }))
    state = step(state, { type: 'policy', now: at(4), warnAfter: W, expireAfter: E }).state
    state = step(state, { type: 'lost', now: at(5) }).state
    expect(nextCheck(state, 0, true)).toBe(at(6))
  })

  test('a tab that is no longer the leader closes it; a stopped or ended tab never opens it', () => {
    const { state } = step(started, { type: 'check', now: T0, delay: 0, leader: true })
    expect(kinds(step(state, { type: 'check', now: T0, delay: s(2) }).effects)).toEqual([
      'unlisten',
    ])
    const off = step(STOPPED, { type: 'start', now: T0, warnAfter: W, expireAfter: E }).state
    expect(kinds(step(off, { type: 'check', now: T0, delay: 0, leader: true }).effects)).toEqual([
      'ping',
    ])
    const ended = step(state, { type: 'ended', now: T0, reason: 'admin', pushed: true }).state
    expect(step(ended, { type: 'check', now: at(9), delay: 0, leader: true }).effects).toEqual([])
    expect(step(ended, { type: 'lost', now: at(9) })).toEqual({ state: ended, effects: [] })
  })

  test('a pushed end: expired with the reason, told to the other tabs, no logout request', () => {
    const { state, effects } = step(started, {
      type: 'ended',
      now: at(3),
      reason: 'admin',
      pushed: true,
    })
    expect(state).toMatchObject({ status: 'expired', reason: 'admin' })
    expect(effects).toEqual([
      { type: 'end' },
      { type: 'sync', shared: shared(state) },
      { type: 'close' },
      { type: 'leave' },
    ])
  })

  test('a policy pushed to the leader reaches every tab, without a ping answer', () => {
    const leader = play(opened)
    const follower = play(opened)
    const pushed = step(leader, { type: 'policy', now: at(5), warnAfter: s(5), expireAfter: s(10) })
    expect(pushed.state).toMatchObject({ status: 'active', warnAfter: s(5), expireAfter: s(10) })
    const shares = pushed.effects.filter(isShare)
    expect(shares).toEqual([{ type: 'sync', shared: shared(pushed.state) }])
    const { state } = step(follower, { type: 'sync', shared: shared(pushed.state) })
    expect([state.warnAfter, state.expireAfter]).toEqual([s(5), s(10)])
    // An older ping answer from elsewhere does not bring the old thresholds back.
    expect(step(state, { type: 'sync', shared: shared(follower) }).state.warnAfter).toBe(s(5))
  })

  test('after the clock is set back an hour, a newer policy still reaches the other tabs', () => {
    const policy = (state: MachineState, now: number, warnAfter: number) =>
      step(state, { type: 'policy', now, warnAfter, expireAfter: 2 * warnAfter }).state
    const hour = 3_600_000
    const leader = policy(play(opened), at(5), s(5))
    const follower = step(play(opened), { type: 'sync', shared: shared(leader) }).state
    const check = (state: MachineState, delay: number) =>
      step(state, { type: 'check', now: at(6) - hour, delay }).state
    const newer = policy(check(leader, 0), at(7) - hour, s(8))
    const { state } = step(check(follower, s(2)), { type: 'sync', shared: shared(newer) })
    expect(state.warnAfter).toBe(s(8))
  })
})

describe('faults from issue 13', () => {
  test('2: a ping nobody answers covers the deadline only until it times out', () => {
    // The leader pinged at the warning deadline, then closed without an answer.
    const follower = step(play(opened), { type: 'pinged', at: at(20) }).state
    const delay = s(2)
    const due = at(20) + REQUEST_TIMEOUT + delay
    expect(nextCheck(follower, delay)).toBe(due)
    expect(step(follower, { type: 'check', now: due - 1, delay }).effects).toEqual([])
    const { effects } = step(follower, { type: 'check', now: due, delay })
    expect(effects.filter((effect) => effect.type === 'ping')).toHaveLength(1)
    // Answered, the deadline is checked: nothing more until the next one.
    const answered = step(follower, {
      type: 'sync',
      shared: { ...shared(follower), syncedAt: at(20) },
    }).state
    expect(step(answered, { type: 'check', now: due, delay }).effects).toEqual([])
  })

  test('3: waking offline past expireAfter logs out at once, even when activity comes first', () => {
    play([
      ...opened,
      [7200, 'activity', 'active', ['ping']],
      [7200, 'unreachable', 'expired', ['logout']],
    ])
  })

  test('3: activity while the wake ping is in flight does not revive the session', () => {
    play([
      ...opened,
      [7200, 'check', 'active', ['ping']],
      [7200.2, 'activity', 'active'],
      [7200.4, 'unreachable', 'expired', ['logout']],
    ])
  })

  test('4: a follower waking long past a deadline gives the leader its delay first', () => {
    const state = play([
      ...opened,
      [7200, { follower: s(2) }, 'active'],
      [7201.9, { follower: s(2) }, 'active'],
      [7202, { follower: s(2) }, 'active', ['ping']],
    ])
    expect(state.lastPingAt).toBe(at(7202))
    // Once the leader's ping is heard, the follower waits for its answer instead.
    const heard = play([...opened, [7200, { follower: s(2) }, 'active']])
    const pinged = step(heard, { type: 'pinged', at: at(7200.1) }).state
    expect(step(pinged, { type: 'check', now: at(7202), delay: s(2) }).effects).toEqual([])
  })

  test('6: the countdown ends before the server would refuse a stay, in every tab alike', () => {
    // The server saw activity at 0.7 s and answers in whole seconds, rounded down.
    const serverLast = at(0.7)
    const serverEnd = serverLast + E
    const sentAt = at(20.7)
    const answeredAt = sentAt + 400
    const idleFor = Math.floor((sentAt + 200 - serverLast) / 1000) * 1000
    const pinged = step(play(opened), { type: 'check', now: sentAt, delay: 0 }).state
    const leader = step(pinged, { type: 'answer', now: answeredAt, sentAt, view: { idleFor } })
    expect(leader.state.status).toBe('warning')
    const follower = step(play(opened), { type: 'sync', shared: shared(leader.state) }).state
    let zero = answeredAt
    while (countdown(leader.state, zero) > 0) zero += 10
    // A stay clicked in the countdown's last moment reaches the server with a second to spare.
    expect(zero + 1000).toBeLessThanOrEqual(serverEnd)
    for (let t = answeredAt; t <= zero; t += 10) {
      expect(countdown(follower, t)).toBe(countdown(leader.state, t))
    }
  })

  test('12: a ping answered idleFor 0 is not followed by an extra heartbeat', () => {
    const state = play([
      [0, 'check', 'active', ['ping']],
      [0.3, { answer: { idleFor: 0 } }, 'active'],
      [7.5, 'check', 'active'],
      [19.9, 'check', 'active'],
      [20, 'check', 'active', ['ping']],
    ])
    expect(state.inFlight).toBe(true)
  })
})

describe('a paused tab (issue 15, item 2)', () => {
  const event = (second: number, paused: boolean): MachineEvent => ({
    type: 'pause',
    now: at(second),
    paused,
  })
  /**
   * Runs the leader's checks at the times `nextCheck` asks for, up to `until` seconds; the
   * server answers each ping with the idle time it was told and ends the session as `absolute`
   * from `end` seconds on. Returns the last state and every ping: [second, idleFor seconds].
   */
  function follow(
    first: MachineState,
    until: number,
    end = Number.POSITIVE_INFINITY,
  ): { state: MachineState; pings: Array<[number, number]> } {
    let state = first
    const pings: Array<[number, number]> = []
    // Time never runs back: a check overdue when the script starts runs at its start.
    let clock = Math.max(state.lastActivity, state.lastPingAt, state.changedAt)
    for (let next = nextCheck(state, 0); next !== null && next <= at(until); ) {
      next = clock = Math.max(next, clock)
      const second = (next - T0) / 1000
      const result = step(state, { type: 'check', now: next, delay: 0 })
      state = result.state
      for (const effect of result.effects) {
        if (effect.type !== 'ping') continue
        pings.push([second, effect.idleFor / 1000])
        state =
          second >= end
            ? step(state, { type: 'ended', now: next, reason: 'absolute' }).state
            : step(state, {
                type: 'answer',
                now: next,
                sentAt: next,
                view: { idleFor: effect.idleFor, expiresIn: s(end - second) },
              }).state
      }
      next = nextCheck(state, 0)
    }
    return { state, pings }
  }
  const reported = (effects: Effect[]): number[] =>
    effects.flatMap((effect) => (effect.type === 'activity' ? [effect.at] : []))

  test('reports itself active every warnAfter/2, without a follower delay', () => {
    const paused = step(play(opened), event(1, true))
    expect(paused.state).toMatchObject({ paused: true, lastActivity: at(1) })
    expect(reported(paused.effects)).toEqual([at(1)])
    expect(reportAt(paused.state)).toBe(at(11))
    expect(
      reported(step(paused.state, { type: 'check', now: at(10.9), delay: 0 }).effects),
    ).toEqual([])
    const report = step(paused.state, { type: 'check', now: at(11), delay: 2000 })
    expect(report.state.lastActivity).toBe(at(11))
    expect(reported(report.effects)).toEqual([at(11)])
  })

  test('ten minutes paused: never a warning, and the server never sees more than warnAfter/2 idle', () => {
    const paused = step(play(opened), event(1, true)).state
    const { state, pings } = follow(paused, 600)
    expect(state.status).toBe('active')
    // Heartbeats as for a steady user: one per report (every 10 s), not one per check.
    expect(pings.length).toBe(60)
    expect(Math.max(...pings.map(([, idle]) => idle))).toBeLessThanOrEqual(W / 2 / 1000)
  })

  test('pause and resume are activity at that moment: idle time counts from the resume', () => {
    let state = follow(step(play(opened), event(1, true)).state, 300).state
    state = step(state, event(305, false)).state
    expect(state).toMatchObject({ paused: false, lastActivity: at(305), status: 'active' })
    expect(follow(state, 324.9).state.status).toBe('active')
    expect(follow(state, 325).state.status).toBe('warning')
  })

  test('pausing while the warning is open dismisses it, as activity() does, and tells the server', () => {
    const warned = follow(play(opened), 20).state
    expect(warned.status).toBe('warning')
    const { state, effects } = step(warned, event(22, true))
    expect(state.status).toBe('active')
    expect(effects.map((effect) => label(effect).split(' ')[0])).toEqual(['ping', 'share', 'share'])
  })

  test('the absolute end still ends a paused session, with its reason and one logout', () => {
    const paused = step(play(opened), event(1, true)).state
    const before = follow(paused, 41.9, 42)
    expect(before.state.status).toBe('active')
    const { state, pings } = follow(paused, 42, 42)
    expect(pings.at(-1)?.[0]).toBe(42)
    expect(state).toMatchObject({ status: 'expired', reason: 'absolute', paused: true })
    // Past the end nothing revives it (its logout settled).
    const settled = step(state, { type: 'loggedOut', now: at(42.1), done: true }).state
    expect(step(settled, { type: 'check', now: at(60), delay: 0 }).effects).toEqual([])
  })

  test('no report past the end this tab knows of (offline past the absolute end)', () => {
    const state = { ...step(play(opened), event(1, true)).state, absoluteEnd: at(5) }
    expect(reported(step(state, { type: 'check', now: at(11), delay: 0 }).effects)).toEqual([])
  })

  test('other tabs see the reports, not the pause: its reports simply stop when it closes', () => {
    const paused = step(play(opened), event(1, true)).state
    expect(shared(paused)).not.toHaveProperty('paused')
    const other = step(play(opened), {
      type: 'activity',
      at: at(11),
      now: at(11),
      extend: false,
      remote: true,
    }).state
    // No report after 11 s: the other tab warns at 31 s (having asked the server).
    expect(follow(other, 30.9).state.status).toBe('active')
    expect(follow(other, 31).state.status).toBe('warning')
  })

  test('a stopped tab only remembers the hold; start() begins unpaused', () => {
    const { state, effects } = step(STOPPED, event(1, true))
    expect(effects).toEqual([])
    expect(state.paused).toBe(true)
    const started = step(STOPPED, { type: 'start', now: at(2), warnAfter: W, expireAfter: E })
    expect(started.state.paused).toBe(false)
  })
})

describe('a hidden leader (issue 13, item 12)', () => {
  // Chromium runs a hidden tab's timers on whole seconds: the leader's warn ping may leave up
  // to 1 s after the deadline, and a follower waits its grace (2 s) past it before it asks.
  const grace = s(2)
  const visible = (state: MachineState, leaderHidden: boolean): MachineState =>
    [
      { type: 'visibility', hidden: false, leader: false, remote: false },
      { type: 'visibility', hidden: leaderHidden, leader: false, remote: true },
    ].reduce((next, event) => step(next, event as MachineEvent).state, state)
  const pings = (effects: Effect[]): number => effects.filter((e) => e.type === 'ping').length

  test('the leader tells the other tabs when it is hidden or shown; a follower does not', () => {
    const tab = play(opened)
    const leader = step(tab, { type: 'visibility', hidden: true, leader: true, remote: false })
    expect(leader.state.hidden).toBe(true)
    expect(leader.effects).toEqual([{ type: 'visibility', hidden: true }])
    const follower = step(tab, { type: 'visibility', hidden: true, leader: false, remote: false })
    expect(follower.effects).toEqual([])
    const told = step(tab, { type: 'visibility', hidden: true, leader: false, remote: true })
    expect(told.state).toMatchObject({ leaderHidden: true, hidden: false })
  })

  test('a visible follower asks at the warn deadline at once; the late leader then sends none', () => {
    const follower = visible(play(opened), true)
    expect(nextCheck(follower, grace)).toBe(at(20))
    const asked = step(follower, { type: 'check', now: at(20), delay: grace })
    expect(pings(asked.effects)).toBe(1)
    expect(asked.effects).toContainEqual({ type: 'pinged', at: at(20) })
    // The hidden leader's timer fires on the next whole second and hears of that ping first.
    const leader = step(play(opened), { type: 'pinged', at: at(20) }).state
    expect(pings(step(leader, { type: 'check', now: at(20.9), delay: 0 }).effects)).toBe(0)
    // The answer (the server rounds idleFor down) warns at the deadline, not a second later.
    const answered = step(asked.state, {
      type: 'answer',
      now: at(20.05),
      sentAt: at(20),
      view: { idleFor: s(20) },
    })
    expect(answered.state.status).toBe('warning')
  })

  test('the expire deadline too: the visible tab logs out on time', () => {
    const warned = step(
      step(visible(play(opened), true), { type: 'check', now: at(20), delay: grace }).state,
      { type: 'answer', now: at(20), sentAt: at(20), view: { idleFor: s(20) } },
    ).state
    expect(warned.status).toBe('warning')
    expect(nextCheck(warned, grace)).toBe(at(30))
  })

  test('with the leader visible, or this tab hidden too, a follower keeps its grace', () => {
    expect(nextCheck(visible(play(opened), false), grace)).toBe(at(22))
    const hidden = step(visible(play(opened), true), {
      type: 'visibility',
      hidden: true,
      leader: false,
      remote: false,
    }).state
    expect(nextCheck(hidden, grace)).toBe(at(22))
    expect(pings(step(hidden, { type: 'check', now: at(20), delay: grace }).effects)).toBe(0)
  })

  test('a heartbeat is not hurried: only deadlines are', () => {
    const busy = visible(play([...opened, [1, 'activity', 'active']]), true)
    expect(nextCheck(busy, grace)).toBe(at(7.5) + grace)
  })

  test('tabs waking together still leave the one ask to the leader (item 4)', () => {
    const follower = visible(play(opened), true)
    const woke = step(follower, { type: 'check', now: at(7200), delay: grace })
    expect(pings(woke.effects)).toBe(0)
    expect(nextCheck(woke.state, grace)).toBe(at(7202))
  })
})

describe('messages from other tabs (issue 25, item 4: the machine decides)', () => {
  const live = play(opened)
  const hiddenHere = step(live, { type: 'visibility', hidden: true, leader: false, remote: false })
  const expiredElsewhere = {
    ...shared(live),
    status: 'expired' as const,
    reason: 'idle',
    changedAt: at(30),
  }
  const unconfirmed = step(live, { type: 'unconfirmed' }).state
  const types = (effects: Effect[]): string[] => effects.map(label)

  // [name, state, event, effects (share by message type)]
  test.each<[string, MachineState, MachineEvent, string[]]>([
    [
      'a new tab says hello: a follower tells it where things stand',
      live,
      { type: 'hello', leader: false },
      ['share sync'],
    ],
    [
      'a new tab says hello: the leader also tells whether it is hidden',
      hiddenHere.state,
      { type: 'hello', leader: true },
      ['share sync', 'share visibility'],
    ],
    ['hello to a stopped tab: nothing to tell', STOPPED, { type: 'hello', leader: true }, []],
    [
      'an end decided elsewhere, the logout confirmed: this tab sends no request',
      live,
      { type: 'sync', shared: expiredElsewhere },
      ['end', 'close', 'leave'],
    ],
    [
      'an end decided elsewhere after "unconfirmed": this tab retries the logout too',
      unconfirmed,
      { type: 'sync', shared: expiredElsewhere },
      ['end', 'close'],
    ],
    [
      'an end pushed on the events channel after "unconfirmed": retried here too',
      unconfirmed,
      { type: 'ended', now: at(25), reason: 'revoked', pushed: true },
      ['end', 'share sync', 'close'],
    ],
  ])('%s', (_name, state, event, effects) => {
    expect(types(step(state, event).effects)).toEqual(effects)
  })

  test('the leader tells a new tab it is hidden, with the hidden flag it holds', () => {
    const { effects } = step(hiddenHere.state, { type: 'hello', leader: true })
    expect(effects[1]).toEqual({ type: 'visibility', hidden: true })
    expect(effects[0]).toEqual({ type: 'sync', shared: shared(live) })
  })

  test('"unconfirmed" after this tab stopped changes nothing', () => {
    expect(step(STOPPED, { type: 'unconfirmed' }).state).toEqual(STOPPED)
  })
})

describe('one request per deadline (issue 25, item 6)', () => {
  /**
   * Two tabs of one window, played on one clock: A leads, hidden behind B (Chromium runs a
   * hidden tab's timers on whole seconds), B is the visible follower. A message between tabs
   * takes 50 ms, a request 100 ms; the server counts idle time from T0, answers whole seconds
   * and ends the session at expireAfter (401). Returns each ping as `second:tab:status`.
   */
  function twoTabs(): string[] {
    type Tab = { name: string; state: MachineState; delay: number; hidden: boolean }
    const tabs: Tab[] = [
      { name: 'A', state: play(opened), delay: 0, hidden: true },
      { name: 'B', state: play(opened), delay: s(2), hidden: false },
    ]
    const [a, b] = tabs as [Tab, Tab]
    a.state = step(a.state, { type: 'visibility', hidden: true, leader: true, remote: false }).state
    b.state = step(b.state, { type: 'visibility', hidden: true, leader: false, remote: true }).state
    type Due = { at: number; tab: Tab; event?: MachineEvent }
    const pending: Due[] = []
    const pings: string[] = []
    const run = (tab: Tab, event: MachineEvent, now: number): void => {
      const result = step(tab.state, event)
      tab.state = result.state
      for (const effect of result.effects) {
        if (isShare(effect)) {
          const other = tab === a ? b : a
          const m = effect
          const heard: MachineEvent =
            m.type === 'activity'
              ? { ...m, now: now + 50, remote: true }
              : m.type === 'visibility'
                ? { ...m, leader: false, remote: true }
                : m
          pending.push({ at: now + 50, tab: other, event: heard })
        }
        // The server confirms a logout request after 100 ms.
        if (effect.type === 'logout') {
          pending.push({
            at: now + 100,
            tab,
            event: { type: 'loggedOut', now: now + 100, done: true },
          })
        }
        if (effect.type === 'ping') {
          const idle = Math.floor((now - T0) / 1000)
          const ended = idle * 1000 >= E
          pings.push(`${idle}s:${tab.name}:${ended ? 401 : 200}`)
          const event: MachineEvent = ended
            ? { type: 'ended', now: now + 100, reason: 'idle' }
            : { type: 'answer', now: now + 100, sentAt: now, view: { idleFor: s(idle) } }
          pending.push({ at: now + 100, tab, event })
        }
      }
    }
    for (let guard = 0; guard < 100; guard++) {
      const timers = tabs.flatMap((tab): Due[] => {
        const due = nextCheck(tab.state, tab.delay, tab.delay === 0)
        if (due === null) return []
        return [{ at: tab.hidden ? Math.ceil((due - T0) / 1000) * 1000 + T0 : due, tab }]
      })
      const next = [...pending, ...timers].sort((x, y) => x.at - y.at)[0]
      if (next === undefined) break
      // As the ward does: every event is followed by a check (a timer is the check alone).
      const { at: now, tab, event } = next
      if (event !== undefined) {
        pending.splice(pending.indexOf(next), 1)
        run(tab, event, now)
      }
      run(tab, { type: 'check', now, delay: tab.delay, leader: tab.delay === 0 }, now)
      if (tabs.every((tab) => tab.state.status === 'expired')) break
    }
    expect(tabs.map((tab) => tab.state.status)).toEqual(['expired', 'expired'])
    return pings
  }

  test('with the leader hidden, one tab asks at each deadline and the other hears its answer', () => {
    expect(twoTabs()).toEqual(['20s:B:200', '30s:B:401'])
  })
})

describe('the page veil after the back/forward cache (issue 25, item 4: the machine decides)', () => {
  const live = play(opened)
  const restored = step(live, { type: 'check', now: at(5), delay: 0, ask: true })
  const veiled = restored.state
  const veils = (effects: Effect[]): boolean[] =>
    effects.flatMap((effect) => (effect.type === 'veil' ? [effect.hidden] : []))
  const answer = (second: number): MachineEvent => ({
    type: 'answer',
    now: at(second + 0.1),
    sentAt: at(second),
    view: { idleFor: s(second) },
  })
  /** Restored from the cache after expireAfter without activity: the answer ends it. */
  const late = step(live, { type: 'check', now: at(31), delay: 0, ask: true }).state

  test('restored: the page is hidden first, then the server is asked', () => {
    expect(restored.effects.map(label)).toEqual(['veil', 'ping', 'share pinged'])
    expect(veils(restored.effects)).toEqual([true])
    expect(veiled.veiled).toBe(true)
  })

  // [name, state, event, veil effects, veiled after]
  test.each<[string, MachineState, MachineEvent, boolean[], boolean]>([
    ['the answer says the session lives: the page shows', veiled, answer(5), [false], false],
    ['an answer with no veil up changes nothing', live, answer(5), [], false],
    [
      'the answer ends the session (idle past expireAfter): it stays hidden as it leaves',
      late,
      answer(31),
      [],
      true,
    ],
    [
      'the server says the session ended: it stays hidden as it leaves',
      veiled,
      { type: 'ended', now: at(5.1), reason: 'revoked' },
      [],
      true,
    ],
    [
      'the server is unreachable: hidden until an answer comes',
      veiled,
      { type: 'unreachable', now: at(5.1) },
      [],
      true,
    ],
  ])('%s', (_name, state, event, effects, after) => {
    const result = step(state, event)
    expect(veils(result.effects)).toEqual(effects)
    expect(result.state.veiled).toBe(after)
  })
})

describe('the logout request, its retries and their hand-over (issue 25, item 4: the machine decides)', () => {
  const live = play(opened)
  const unconfirmed = step(live, { type: 'unconfirmed' }).state
  const expiredElsewhere = {
    ...shared(live),
    status: 'expired' as const,
    reason: 'idle',
    changedAt: at(30),
  }
  /** The person chose to log out at 10 s: the request is out, no answer yet. */
  const sent = step(live, { type: 'logout', now: at(10) }).state
  /** No answer within LOGOUT_WAIT: the other tabs heard it is unconfirmed. */
  const told = step(sent, { type: 'check', now: at(10) + LOGOUT_WAIT, delay: 0 }).state
  /** The request failed before the wait was over: the next one goes out after backoff(1). */
  const failed = step(sent, { type: 'loggedOut', now: at(10.5), done: false }).state
  const retryAt = at(10.5) + backoff(1)
  const retried = step(failed, { type: 'check', now: retryAt, delay: 0 }).state
  const types = (effects: Effect[]): string[] => effects.map(label)

  // [name, state, event, effects (share by message type), the state after it (a part)]
  test.each<[string, MachineState, MachineEvent, string[], Partial<MachineState>]>([
    [
      'logout(): expired, one request; the other tabs hear of it at the answer or after LOGOUT_WAIT',
      live,
      { type: 'logout', now: at(10) },
      ['end', 'logout'],
      {
        status: 'expired',
        reason: 'logout',
        leave: { own: true, logoutFailures: 0, retryAt: NEVER, tellAt: at(10) + LOGOUT_WAIT },
      },
    ],
    [
      'idle past expireAfter (an unreachable server): the same single request',
      step(live, { type: 'check', now: at(30), delay: 0 }).state,
      { type: 'unreachable', now: at(30.1) },
      ['end', 'logout'],
      { status: 'expired', reason: 'idle', leave: expect.objectContaining({ retryAt: NEVER }) },
    ],
    [
      'the server ended it (401): the same single request',
      step(live, { type: 'check', now: at(7.5), delay: 0 }).state,
      { type: 'ended', now: at(7.6), reason: 'revoked' },
      ['end', 'logout'],
      { status: 'expired', reason: 'revoked', leave: expect.objectContaining({ retryAt: NEVER }) },
    ],
    [
      'confirmed within LOGOUT_WAIT: the others hear of the end, this tab leaves the channel and the page',
      sent,
      { type: 'loggedOut', now: at(10.5), done: true },
      ['share sync', 'close', 'leave'],
      { leave: null },
    ],
    [
      'refused or failed within LOGOUT_WAIT: the others hear it is unconfirmed first; retried after backoff(1)',
      sent,
      { type: 'loggedOut', now: at(10.5), done: false },
      ['share unconfirmed', 'share sync', 'close'],
      { leave: { own: true, logoutFailures: 1, retryAt, tellAt: NEVER } },
    ],
    [
      'before LOGOUT_WAIT, without an answer: nothing yet',
      sent,
      { type: 'check', now: at(11.9), delay: 0 },
      [],
      { leave: sent.leave },
    ],
    [
      'no answer within LOGOUT_WAIT: the others hear it is unconfirmed; the request still counts',
      sent,
      { type: 'check', now: at(10) + LOGOUT_WAIT, delay: 0 },
      ['share unconfirmed', 'share sync', 'close'],
      { leave: { ...(sent.leave as object), tellAt: NEVER } as MachineState['leave'] },
    ],
    [
      'told, then confirmed: this tab leaves',
      told,
      { type: 'loggedOut', now: at(13), done: true },
      ['leave'],
      { leave: null },
    ],
    [
      'told, then failed: retried after backoff(1), nothing told twice',
      told,
      { type: 'loggedOut', now: at(13), done: false },
      [],
      {
        leave: expect.objectContaining({ logoutFailures: 1, retryAt: at(13) + backoff(1) }),
      },
    ],
    [
      'a retry before its time: nothing',
      failed,
      { type: 'check', now: retryAt - 1, delay: 0 },
      [],
      { leave: failed.leave },
    ],
    [
      'a retry at its time: the request goes out again',
      failed,
      { type: 'check', now: retryAt, delay: 0 },
      ['logout'],
      { leave: expect.objectContaining({ logoutFailures: 1, retryAt: NEVER }) },
    ],
    [
      'a retry failed too: the next waits twice as long',
      retried,
      { type: 'loggedOut', now: retryAt + 100, done: false },
      [],
      {
        leave: expect.objectContaining({
          logoutFailures: 2,
          retryAt: retryAt + 100 + backoff(2),
        }),
      },
    ],
    [
      'a retry confirmed: this tab leaves',
      retried,
      { type: 'loggedOut', now: retryAt + 100, done: true },
      ['leave'],
      { leave: null },
    ],
    [
      'an end pushed on the events channel: no request; told and left at once',
      live,
      { type: 'ended', now: at(5), reason: 'admin', pushed: true },
      ['end', 'share sync', 'close', 'leave'],
      { status: 'expired', leave: null },
    ],
    [
      'pushed after "unconfirmed": no request now, this tab retries it after backoff(1)',
      unconfirmed,
      { type: 'ended', now: at(5), reason: 'admin', pushed: true },
      ['end', 'share sync', 'close'],
      {
        leave: { own: true, logoutFailures: 1, retryAt: at(5) + backoff(1), tellAt: NEVER },
      },
    ],
    [
      'decided elsewhere: nothing told, no request, left at once',
      live,
      { type: 'sync', shared: expiredElsewhere },
      ['end', 'close', 'leave'],
      { status: 'expired', leave: null },
    ],
    [
      'decided elsewhere after "unconfirmed": this tab retries it after backoff(1), and tells nothing',
      unconfirmed,
      { type: 'sync', shared: expiredElsewhere },
      ['end', 'close'],
      {
        leave: { own: false, logoutFailures: 1, retryAt: expect.any(Number), tellAt: NEVER },
      },
    ],
    [
      'a retry after "unconfirmed" shares nothing: the tab that decided told the others',
      step(unconfirmed, { type: 'sync', shared: expiredElsewhere }).state,
      { type: 'loggedOut', now: at(40), done: false },
      [],
      {},
    ],
    [
      'a new session started here: the retries stop (a retry would end it: the cookie is shared)',
      failed,
      { type: 'start', now: at(11), warnAfter: W, expireAfter: E },
      ['share activity'],
      { status: 'active', leave: null },
    ],
    [
      'stop(): the retries go on, and the page is left alone once the server settles it',
      failed,
      { type: 'stop' },
      [],
      { status: 'stopped', leave: failed.leave },
    ],
    [
      'an answer after a new session started changes nothing',
      live,
      { type: 'loggedOut', now: at(11), done: false },
      [],
      { leave: null },
    ],
  ])('%s', (_name, state, event, effects, after) => {
    const result = step(state, event)
    expect(types(result.effects)).toEqual(effects)
    expect(result.state).toMatchObject(after)
  })

  test('the logout request waits for nothing else: the timer asks at LOGOUT_WAIT, then at each retry', () => {
    expect(nextCheck(sent, 0)).toBe(at(10) + LOGOUT_WAIT)
    expect(nextCheck(told, 0)).toBeNull()
    expect(nextCheck(failed, 0)).toBe(retryAt)
    expect(nextCheck(step(failed, { type: 'stop' }).state, 0)).toBe(retryAt)
    expect(nextCheck(retried, 0)).toBeNull()
  })

  test('the tab that decided shares the end as it stands when it tells', () => {
    const { effects } = step(sent, { type: 'loggedOut', now: at(10.5), done: true })
    expect(effects[0]).toEqual({ type: 'sync', shared: shared(sent) })
    expect(shared(sent)).not.toHaveProperty('leave')
  })
})

describe('a new-device sign-in reaches every tab (issue 23: the machine decides)', () => {
  const live = play(opened)
  const ended = step(live, { type: 'ended', now: at(5), reason: 'admin', pushed: true }).state
  const DATA = { sessionId: 'b1e2', browser: 'Firefox' }

  const heard = { type: 'new-device', data: DATA } as const
  const told = { ...heard, remote: true, now: at(5), leader: false }

  // [name, state, event, effects in full]: `heard`, the event as heard, shows it here; the
  // message shares it.
  test.each<[string, MachineState, MachineEvent, Effect[]]>([
    [
      'heard on this tab’s events channel: shown here, and told to the other tabs',
      live,
      heard,
      [{ ...heard, type: 'heard' }, heard],
    ],
    [
      'told by the tab that heard it: shown here, told to nobody (it reached every tab at once)',
      live,
      told,
      [{ ...told, type: 'heard' }],
    ],
    ['a tab whose session ended here shows nothing and tells nobody', ended, told, []],
    ['a stopped tab shows nothing', STOPPED, heard, []],
  ])('%s', (_name, state, event, effects) => {
    const result = step(state, event)
    expect(result.effects).toEqual(effects)
    expect(result.state).toEqual(state)
  })
})
