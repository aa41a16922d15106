/**
 * The ward's decisions as a pure function of time and events: no DOM, no timers, no I/O.
 * Every deadline is computed from timestamps when it is checked, so a timer that fires late,
 * a laptop that slept or a clock that jumped resolves correctly on the next check.
 * All times are milliseconds since the epoch (the browser's clock, shared by its tabs).
 */

/** Where a tab stands. */
export type Status = 'stopped' | 'active' | 'warning' | 'expired'

/** What tabs tell each other. Every field is a fact that any tab may learn first. */
export interface Shared {
  status: Status
  /** Why the session ended, when `status` is `expired`. */
  reason: string | null
  /** When `status` last changed; a tab adopts another's status only when it is newer. */
  changedAt: number
  /** Newest user activity seen in any tab or reported by the server. */
  lastActivity: number
  /** Newest ping started by any tab; `NEVER` before the first. */
  lastPingAt: number
  /** Start of the newest ping the server answered; activity after it is unreported. */
  syncedAt: number
  /** Consecutive pings that could not reach the server. */
  failures: number
  warnAfter: number
  expireAfter: number
  /** When the server last told warnAfter/expireAfter (ping answer or policy event). */
  policyAt: number
  /** The absolute end of the session (the server's maxAge), once the server told. */
  absoluteEnd: number | null
}

export interface MachineState extends Shared {
  /** The server must hear about activity at this time (stay, extend). */
  extendAt: number
  /**
   * This tab awaits the answer to its own ping. Read only while the session is live: one that
   * ended leaves it as it was, and a new one starts without.
   */
  inFlight: boolean
  /**
   * The events channel (`/session/events`) as this tab sees it: `off` when turned off, `open`
   * while this tab holds it (connecting or connected), `closed` otherwise.
   */
  channel: 'off' | 'closed' | 'open'
  /** Consecutive channel connections that failed or broke, reset by a good connection. */
  channelFailures: number
  /** The channel may be (re)opened from this time on. */
  channelRetryAt: number
  /** A follower that woke long past a deadline waits its delay from this time (see `check`). */
  wokeAt: number
  /**
   * Something in this tab holds the ward paused (the app, playing media, a long request): the
   * tab reports itself active now and then (see `reportAt`), so every tab and the server count
   * it as active. Other tabs only see the reports: a paused tab that closes or freezes simply
   * stops sending them.
   */
  paused: boolean
  /** This tab is hidden (a background tab, a minimised window). */
  hidden: boolean
  /** The leader said it is hidden: its timers run late (see `grace`). */
  leaderHidden: boolean
  /**
   * Another tab said the logout request that ended the session did not get through (yet):
   * however the session ends here, this tab retries it too (see the `end` effect).
   */
  unconfirmed: boolean
  /**
   * The page came back from the back/forward cache (a `check` with `ask`): it stays hidden until
   * the server answers, since it may show a session that ended while it was cached.
   */
  veiled: boolean
  /** The session ended here and the logout is not settled yet (see {@link Leave}); else null. */
  leave: Leave | null
}

/**
 * What a tab still owes once the session ended in it: the one logout request (retried until the
 * server settles it), and telling the other tabs. Kept over `stop()`; a new session drops it (a
 * retry would end the new one: the cookie is shared).
 */
export interface Leave {
  /** This tab decided the end, so it tells the others where things stand. */
  own: boolean
  /** Logout requests that failed (or that another tab could not get through: 1). */
  logoutFailures: number
  /** When the next request goes out; NEVER while one is out (the answer is awaited). */
  retryAt: number
  /**
   * When this tab tells the others and leaves the channel though its request is unanswered
   * (NEVER: it did already). Until then an answer may come that lets it tell them all is settled.
   */
  tellAt: number
}

/**
 * The server's answer to a ping, validated, in milliseconds. Absent fields are unknown; the
 * thresholds come as a pair or not at all (`readPing`).
 */
export type ServerView = { idleFor?: number; expiresIn?: number } & (
  | { warnAfter?: undefined; expireAfter?: undefined }
  | { warnAfter: number; expireAfter: number }
)

export type MachineEvent =
  /** `events`: the events channel is configured. */
  | { type: 'start'; now: number; warnAfter: number; expireAfter: number; events?: boolean }
  /**
   * Time to look at the deadlines. `delay` is how long a follower waits for the leader;
   * `leader`: this tab won the election (only such a tab holds the events channel).
   */
  /**
   * `ask`: ask the server now, due or not (the page came back from the back/forward cache and
   * may have missed any end: Safari drops messages from other tabs to cached pages).
   */
  | { type: 'check'; now: number; delay: number; leader?: boolean; ask?: boolean }
  /**
   * Activity at `at`, seen at `now`. `extend` asks for a ping at once (stay, extend()).
   * `remote`: another tab saw it (the channel between tabs sets it on what it delivers).
   */
  | { type: 'activity'; at: number; now: number; extend: boolean; remote?: boolean }
  | { type: 'pinged'; at: number }
  | { type: 'answer'; now: number; sentAt: number; view: ServerView }
  | { type: 'unreachable'; now: number }
  /** The server ended the session; `pushed`: it said so on the events channel. */
  | { type: 'ended'; now: number; reason: string; pushed?: boolean }
  /** New thresholds pushed on the events channel, in milliseconds. */
  | { type: 'policy'; now: number; warnAfter: number; expireAfter: number }
  /** The events channel failed, stalled or closed without `ended`. */
  | { type: 'lost'; now: number }
  | { type: 'sync'; shared: Shared }
  | { type: 'logout'; now: number }
  /** Something started or stopped holding this tab paused (`paused`: anything still holds). */
  | { type: 'pause'; now: number; paused: boolean }
  /**
   * This tab was hidden or shown (`remote`: the leader said so of itself). `leader`: this tab
   * won the election, so it tells the others.
   */
  | { type: 'visibility'; hidden: boolean; leader: boolean; remote?: boolean }
  /** A tab joined (or woke) and asks where things stand; `leader`: this tab won the election. */
  | { type: 'hello'; leader: boolean }
  /** Another tab's logout request did not get through (yet). */
  | { type: 'unconfirmed' }
  /** This tab's logout request was answered: `done`, the server settled it (any answer below 500). */
  | { type: 'loggedOut'; now: number; done: boolean }
  /** The app stopped the ward: a logout owed goes on (see {@link Leave}). */
  | { type: 'stop' }
  /**
   * A new-device sign-in of this user (the events channel's data, read where it is shown):
   * heard on this tab's channel, or told by the tab that heard it (`remote`).
   */
  | { type: 'new-device'; data: unknown; remote?: boolean }

export type ShareMessage =
  | { type: 'activity'; at: number; extend: boolean }
  | { type: 'pinged'; at: number }
  | { type: 'sync'; shared: Shared }
  | { type: 'visibility'; hidden: boolean }
  /** The logout request that ended the session did not get through (yet): every tab retries it. */
  | { type: 'unconfirmed' }
  /** The tab holding the events channel heard of a new-device sign-in: every tab shows it. */
  | { type: 'new-device'; data: unknown }

/** What this tab does: a message for the other tabs is itself the effect that shares it. */
export type Effect =
  | ShareMessage
  /** Ask the server; `idleFor` in milliseconds. */
  | { type: 'ping'; idleFor: number }
  /** The session is over here: stop watching (activity, timers, the dialog, the events channel). */
  | { type: 'end' }
  /** Send the logout request (the answer is a `loggedOut` event). */
  | { type: 'logout' }
  /** Leave the channel between tabs (which hands the election to another tab). */
  | { type: 'close' }
  /** The logout is settled: go to `redirectTo` with the reason, or show the page again. */
  | { type: 'leave' }
  /** Open the events channel / close it. */
  | { type: 'listen' }
  | { type: 'unlisten' }
  /** Hide the whole page, or show it again (see `veiled`). */
  | { type: 'veil'; hidden: boolean }
  /**
   * Tell this tab's app of a new-device sign-in, and show the notice (where there is one): the
   * `new-device` event as heard, retyped (the `new-device` message shares it).
   */
  | { type: 'heard'; data: unknown }

export interface Step {
  state: MachineState
  effects: Effect[]
}

/**
 * A hung request must not stall the ward: after this long it counts as unreachable, and a ping
 * another tab started no longer covers a deadline.
 */
export const REQUEST_TIMEOUT = 10_000

/**
 * How long the first follower waits past what is due for the leader's ping before it asks
 * itself; the next waits twice this, and so on (tabs.ts ranks them).
 */
export const FOLLOWER_GRACE = 2000

/** Timestamp for "not yet"; finite so that every channel method can carry it. */
export const NEVER = 0

/** How long an expiring tab waits for its logout request's answer before it tells the others. */
export const LOGOUT_WAIT = 2000

/** Retry delays after failed pings: 1 s, 2 s, 4 s … at most a minute. */
export const backoff = (failures: number): number => Math.min(500 * 2 ** failures, 60_000)

/**
 * The times the state holds but `absoluteEnd`. The first six are in the past when they are set:
 * one later than now means the clock was set back (see `clamp`).
 */
const timeFields = {
  changedAt: NEVER,
  lastActivity: NEVER,
  lastPingAt: NEVER,
  syncedAt: NEVER,
  policyAt: NEVER,
  extendAt: NEVER,
  channelRetryAt: NEVER,
  wokeAt: NEVER,
} satisfies Partial<MachineState>
/** Read from an object's keys, so that the build's shortened names (INTERNAL) are read too. */
const TIMES = Object.keys(timeFields) as Array<keyof typeof timeFields>
const PAST_TIMES = TIMES.slice(0, 6)

/** The fields only this tab knows, as they are before a session starts. */
const LOCAL_STOPPED: Omit<MachineState, keyof Shared> = {
  extendAt: NEVER,
  inFlight: false,
  channel: 'off',
  channelFailures: 0,
  channelRetryAt: NEVER,
  wokeAt: NEVER,
  paused: false,
  hidden: false,
  leaderHidden: false,
  unconfirmed: false,
  veiled: false,
  leave: null,
}

export const STOPPED: MachineState = {
  status: 'stopped',
  reason: null,
  changedAt: NEVER,
  lastActivity: NEVER,
  lastPingAt: NEVER,
  syncedAt: NEVER,
  failures: 0,
  warnAfter: 0,
  expireAfter: 0,
  policyAt: NEVER,
  absoluteEnd: null,
  ...LOCAL_STOPPED,
}

const live = (s: MachineState): boolean => s.status === 'active' || s.status === 'warning'

/** The part of the state other tabs need: every field but this tab's own (LOCAL_STOPPED's). */
export function shared(s: MachineState): Shared {
  return Object.fromEntries(
    Object.entries(s).filter(([key]) => !(key in LOCAL_STOPPED)),
  ) as unknown as Shared
}

/**
 * When the server must next be asked about a live session, or Infinity. The leader asks at this
 * time, followers a little later, so a frozen or closed leader costs at most one extra ping per
 * deadline.
 * @example
 * dueAt({ ...state, status: 'active', lastActivity: 0, warnAfter: 840_000 }) // 840000 at most
 */
export function dueAt(s: MachineState): number {
  const heartbeat = s.expireAfter / 4
  return Math.min(
    // A tab that neither pinged nor heard of a ping learns the server's timings first. A tab
    // opened next to others learns them from their answer to its hello instead.
    s.lastPingAt === NEVER
      ? s.changedAt
      : // Retry after a failure, or heartbeat while the user is active.
        s.failures > 0
        ? s.lastPingAt + Math.min(backoff(s.failures), heartbeat)
        : s.lastActivity > s.syncedAt
          ? s.lastPingAt + heartbeat
          : Number.POSITIVE_INFINITY,
    s.extendAt > s.lastPingAt ? s.extendAt : Number.POSITIVE_INFINITY,
    deadlineDue(s),
    // The absolute end, once the server told it (an unknown one is never due).
    unchecked(s, s.absoluteEnd ?? Number.POSITIVE_INFINITY),
  )
}

/** When the warn deadline (while active) or the expire deadline (while warning) must be asked about. */
const deadlineDue = (s: MachineState): number =>
  unchecked(s, s.lastActivity + (s.status === 'active' ? s.warnAfter : s.expireAfter))

/**
 * How long this tab waits past what is due for the leader to ask: `delay` (0 for the leader),
 * except at a deadline while the leader is hidden. Chromium runs a hidden tab's timers on whole
 * seconds, so the leader would ask up to 1 s late and the visible tab's warning would come
 * 1–2 s late: a visible follower asks at once instead (the first in rank; the next a fifth of a
 * second later, and so on, so that one tab asks and the others hear of its ping), and the
 * hidden leader waits half a grace for it, hears of its ping and sends none: one request per
 * deadline. Not earlier than the deadline: the server's idle time, rounded down, would move
 * it. Not on waking (`wokeAt`): tabs that wake together leave the ask to the leader.
 */
function grace(s: MachineState, delay: number): number {
  const due = deadlineDue(s)
  if (s.wokeAt >= due || dueAt(s) !== due) return delay
  if (delay === 0) return s.hidden ? FOLLOWER_GRACE / 2 : 0
  return s.leaderHidden && !s.hidden ? (delay - FOLLOWER_GRACE) / 10 : delay
}

/**
 * When a deadline must be asked about: it counts as checked only once a ping started at or
 * after it was answered, or while such a ping is younger than its timeout. The tab that sent
 * it may close before the answer comes, and only that tab could deliver it.
 */
function unchecked(s: MachineState, deadline: number): number {
  if (deadline <= s.syncedAt) return Number.POSITIVE_INFINITY
  return deadline > s.lastPingAt ? deadline : s.lastPingAt + REQUEST_TIMEOUT
}

/**
 * When a paused tab reports itself active again: half of warnAfter after its last activity, so
 * the report reaches every tab before any of them would warn, and the leader's heartbeat
 * (every expireAfter/4 while activity is unreported) keeps the server's session alive.
 * @example
 * reportAt({ ...state, lastActivity: 0, warnAfter: 840_000 }) // 420000
 */
export const reportAt = (s: MachineState): number => s.lastActivity + s.warnAfter / 2

/**
 * When the tab should run its next check, or null when nothing is pending.
 * @example
 * nextCheck(state, 2000) // dueAt(state) + 2000 for a follower
 */
export function nextCheck(s: MachineState, delay: number, leader?: boolean): number | null {
  const due = live(s)
    ? // Nothing while this tab's ping is out: its answer or timeout comes first.
      s.inFlight
      ? Number.POSITIVE_INFINITY
      : Math.min(
          Math.max(dueAt(s), s.wokeAt) + grace(s, delay),
          // Only the leader reopens the channel, so a follower's timer never waits for it.
          leader && s.channel === 'closed' ? s.channelRetryAt : Number.POSITIVE_INFINITY,
          // A paused tab's report is its own business: no follower delay.
          s.paused ? reportAt(s) : Number.POSITIVE_INFINITY,
        )
    : // Once the session ended here, only a logout still owed has deadlines: telling the
      // others (LOGOUT_WAIT), and the next request, each unless NEVER (none: Infinity).
      s.leave
      ? Math.min(...[s.leave.tellAt, s.leave.retryAt].filter((at) => at !== NEVER))
      : Number.POSITIVE_INFINITY
  return due < Number.POSITIVE_INFINITY ? due : null
}

/**
 * Milliseconds until the session ends without further activity (0 when it is not live).
 * @example
 * remaining({ ...state, status: 'warning', lastActivity: 0, expireAfter: 900_000 }, 870_000) // 30000
 */
export function remaining(s: MachineState, now: number): number {
  return live(s)
    ? Math.max(
        0,
        Math.min(s.lastActivity + s.expireAfter, s.absoluteEnd ?? Number.POSITIVE_INFINITY) - now,
      )
    : 0
}

/**
 * How much earlier the countdown shown to people ends than the session: the server rounds the
 * idle time it answers down to whole seconds (up to 1 s late here), and a "Stay" clicked at
 * the last moment still has to reach it (1 s).
 */
export const COUNTDOWN_MARGIN = 2000

/**
 * Milliseconds the countdown shows: `remaining` less COUNTDOWN_MARGIN, so it ends before the
 * server would refuse a stay, never after. Every tab shares its inputs, so every tab reads alike.
 * @example
 * countdown({ ...state, status: 'warning', lastActivity: 0, expireAfter: 900_000 }, 870_000) // 28000
 */
export function countdown(s: MachineState, now: number): number {
  return Math.max(0, remaining(s, now) - COUNTDOWN_MARGIN)
}

/**
 * Advances the state by one event and says what to do about it. The state is not changed: the
 * step changes its own copy (its `leave` copied too), and its parts below change that copy and
 * add their effects in order (a new object for each change cost the headless entry 272 bytes
 * gzipped more).
 * @example
 * const { state, effects } = step(STOPPED, { type: 'start', now: 0, warnAfter: 20e3, expireAfter: 30e3 })
 * step(state, { type: 'check', now: 0, delay: 0 }).effects[0] // { type: 'ping', idleFor: 0 }
 */
export function step(state: MachineState, event: MachineEvent): Step {
  const s: MachineState = { ...state, leave: state.leave && { ...state.leave } }
  const effects: Effect[] = []
  const emit = (effect: Effect): void => {
    effects.push(effect)
  }
  const sync = (): void => emit({ type: 'sync', shared: shared(s) })

  /** Thresholds the server told (a ping answer, a policy event, another tab) at `policyAt`. */
  const adoptPolicy = (
    policy: Pick<Shared, 'warnAfter' | 'expireAfter'>,
    policyAt: number,
  ): void => {
    s.warnAfter = policy.warnAfter
    s.expireAfter = policy.expireAfter
    s.policyAt = policyAt
  }

  /** Starts this tab's ping now and tells the other tabs, so they do not send one too. */
  const ask = (now: number): void => {
    emit({ type: 'ping', idleFor: now - s.lastActivity })
    emit({ type: 'pinged', at: now })
    s.lastPingAt = now
    s.inFlight = true
  }

  /**
   * The session ends here, for `reason` at `now`: `own`, this tab decided it (so it tells the
   * others); `logout`, it sends the one logout request, and tells the others once it is answered,
   * or after LOGOUT_WAIT (so none of them reaches the login page while the server still knows
   * the session). Without a request the others hear of it at once and the tab leaves, unless
   * another tab's request did not get through (`unconfirmed`): then this tab retries it too, so
   * none leaves for a login page that may send a still signed-in user back.
   */
  const end = (reason: string | null, now: number, own: boolean, logout: boolean): void => {
    s.status = 'expired'
    s.reason = reason
    s.changedAt = now
    s.leave = { own, logoutFailures: 0, retryAt: NEVER, tellAt: logout ? now + LOGOUT_WAIT : NEVER }
    emit({ type: 'end' })
    if (logout) {
      emit({ type: 'logout' })
    } else {
      tell(true)
      answered(now, !s.unconfirmed)
    }
  }

  /**
   * Tells the other tabs (the one that decided the end shares it; `unconfirmed` first when its
   * request did not get through in time) and leaves the channel.
   */
  const tell = (confirmed: boolean): void => {
    const leave = s.leave as Leave
    if (!confirmed) emit({ type: 'unconfirmed' })
    if (leave.own) sync()
    emit({ type: 'close' })
    leave.tellAt = NEVER
  }

  /** The logout request's outcome: settled (`done`), the tab leaves; else the next one waits. */
  const answered = (now: number, done: boolean): void => {
    if (done) {
      s.leave = null
      emit({ type: 'leave' })
    } else {
      const leave = s.leave as Leave
      leave.retryAt = now + backoff(++leave.logoutFailures)
    }
  }

  /** The status a tab's own ping result leads to, judged on reconciled idle time. */
  const settle = (now: number): void => {
    const idle = now - s.lastActivity
    if (idle >= s.expireAfter) {
      end('idle', now, true, true)
      return
    }
    const status: Status = idle >= s.warnAfter ? 'warning' : 'active'
    if (status !== s.status) {
      s.status = status
      s.changedAt = now
    }
    sync()
  }

  /**
   * A clock set back must not postpone deadlines into the future: everything this tab knows is
   * moved back by the same amount, which keeps the order of events (and so what is unreported).
   */
  const clamp = (now: number): void => {
    const ahead = Math.max(...PAST_TIMES.map((key) => s[key])) - now
    if (ahead <= 0) return
    for (const key of TIMES) if (s[key] !== NEVER) s[key] -= ahead
    if (s.absoluteEnd !== null) s.absoluteEnd -= ahead
  }

  const run = (e: MachineEvent): void => {
    // The event's time, read once (10 bytes gzipped less than `e.now` in each rule): only the
    // rules for events that carry one read it.
    const { now } = e as { now: number }
    // First what an event changes whether or not the session is live here.
    switch (e.type) {
      case 'start':
        if (!live(s)) {
          Object.assign(s, STOPPED, {
            status: 'active',
            changedAt: now,
            lastActivity: now,
            warnAfter: e.warnAfter,
            expireAfter: e.expireAfter,
            channel: e.events ? 'closed' : 'off',
          } satisfies Partial<MachineState>)
          emit({ type: 'activity', at: now, extend: false })
        }
        return
      case 'check':
        // A logout owed once the session ended: told without an answer after LOGOUT_WAIT,
        // retried at its time.
        if (!live(s) && s.leave) {
          const { tellAt, retryAt } = s.leave
          if (tellAt !== NEVER && now >= tellAt) tell(false)
          if (retryAt !== NEVER && now >= retryAt) {
            s.leave.retryAt = NEVER
            emit({ type: 'logout' })
          }
        }
        break
      case 'pause':
        s.paused = e.paused
        break
      case 'visibility':
        if (e.remote) s.leaderHidden = e.hidden
        else {
          s.hidden = e.hidden
          if (e.leader) emit({ type: 'visibility', hidden: e.hidden })
        }
        return
      case 'loggedOut':
        // Not sent here (none is out), or a new session started since: nothing is owed.
        if (s.leave?.retryAt !== NEVER) return
        // Not told yet: the others hear now, that it is settled or that it is not.
        if (s.leave.tellAt !== NEVER) tell(e.done)
        answered(now, e.done)
        return
      case 'stop':
        Object.assign(s, STOPPED, { leave: s.leave })
        return
    }
    // The rest is about a live session: once it ended here (or before it started), other tabs'
    // news, the server's answers and the events channel change nothing.
    if (!live(s)) return
    switch (e.type) {
      case 'check': {
        if (e.ask && !s.veiled) {
          s.veiled = true
          emit({ type: 'veil', hidden: true })
        }
        if (s.paused && now >= reportAt(s) && remaining(s, now) > 0) {
          // This tab's activity at `now`, as `activity()` records it.
          run({ type: 'activity', at: now, now, extend: false })
        }
        // Only the elected leader holds the events channel: one stream per browser, so other
        // tabs keep HTTP/1.1's six connections per origin for the app.
        if (s.channel === 'open' && !e.leader) {
          s.channel = 'closed'
          emit({ type: 'unlisten' })
        } else if (s.channel === 'closed' && e.leader && now >= s.channelRetryAt) {
          s.channel = 'open'
          emit({ type: 'listen' })
        }
        if (s.inFlight) return
        clamp(now)
        const due = dueAt(s)
        if (!e.ask) {
          if (now < Math.max(due, s.wokeAt) + grace(s, e.delay)) return
          // A follower that runs at least its delay late (the laptop slept, the tab was frozen)
          // woke with the leader: it waits its delay from now, so the leader alone asks (and
          // sends the one logout) when every tab wakes together.
          if (e.delay > 0 && s.wokeAt < due && now >= due + 2 * e.delay) {
            s.wokeAt = now
            return
          }
        }
        ask(now)
        return
      }
      case 'activity': {
        // Activity after the session's end (as this tab knows it) revives nothing: only the
        // server can tell of newer activity elsewhere, and without it the session is over
        // (fail safe, e.g. waking offline from a sleep longer than expireAfter).
        if (remaining(s, e.at) === 0) return
        const newer = e.at > s.lastActivity
        const dismiss = newer && s.status === 'warning'
        const extend = e.extend || dismiss
        if (!newer && !extend) return
        s.lastActivity = Math.max(s.lastActivity, e.at)
        if (extend) s.extendAt = Math.max(s.extendAt, e.at)
        if (dismiss) {
          s.status = 'active'
          s.changedAt = now
        }
        if (e.remote) return
        // The tab where the person chose to stay tells the server itself, at once: a leader that
        // is frozen or whose request hangs would otherwise announce a ping that never arrives,
        // and the others would trust it past the deadline. `pinged` goes out before the
        // activity, so the leader does not send a second ping for it.
        if (extend && !s.inFlight) ask(now)
        emit({ type: 'activity', at: e.at, extend })
        return
      }
      case 'pinged':
        s.lastPingAt = Math.max(s.lastPingAt, e.at)
        return
      case 'answer': {
        const { view } = e
        s.inFlight = false
        s.failures = 0
        s.syncedAt = Math.max(s.syncedAt, e.sentAt)
        // The server measured between sending and now: counting from `sentAt` never puts its
        // activity later than it is by more than its rounding (which would promise time it does
        // not give), and activity it reports is not owed to it again.
        if (view.idleFor !== undefined) {
          s.lastActivity = Math.max(s.lastActivity, e.sentAt - view.idleFor)
        }
        if (view.warnAfter !== undefined) adoptPolicy(view, now)
        if (view.expiresIn !== undefined) s.absoluteEnd = e.sentAt + view.expiresIn
        settle(now)
        // Still live: the server has spoken, a veiled page may show. An end leaves it hidden.
        if (s.veiled && live(s)) {
          s.veiled = false
          emit({ type: 'veil', hidden: false })
        }
        return
      }
      case 'unreachable':
        // Settling on local idle is the fail-safe: past expireAfter it ends the session.
        s.inFlight = false
        s.failures++
        settle(now)
        return
      case 'ended':
        // A pushed end needs no logout request: the session already ended on the server.
        end(e.reason, now, true, !e.pushed)
        return
      case 'policy':
        // The thresholds move the deadlines only: the next check asks the server before any
        // warning, as after a ping answer. Hearing from the channel also proves it works.
        adoptPolicy(e, now)
        s.channelFailures = 0
        sync()
        return
      case 'lost':
        if (s.channel !== 'open') return
        // Pings go on meanwhile: a broken channel alone never ends a session.
        s.channel = 'closed'
        s.channelRetryAt = now + backoff(++s.channelFailures)
        return
      case 'sync': {
        const r = e.shared
        if (r.syncedAt > s.syncedAt) {
          s.syncedAt = r.syncedAt
          s.absoluteEnd = r.absoluteEnd
        }
        if (r.policyAt > s.policyAt) adoptPolicy(r, r.policyAt)
        if (r.lastPingAt >= s.lastPingAt) {
          s.lastPingAt = r.lastPingAt
          s.failures = r.failures
        }
        s.lastActivity = Math.max(s.lastActivity, r.lastActivity)
        // Activity this tab saw after the sender decided outranks the sender's warning.
        if (
          r.changedAt <= s.changedAt ||
          r.status === 'stopped' ||
          (r.status === 'warning' && s.lastActivity > r.lastActivity)
        ) {
          return
        }
        if (r.status === 'expired') {
          end(r.reason, r.changedAt, false, false)
          return
        }
        s.status = r.status
        s.reason = r.reason
        s.changedAt = r.changedAt
        return
      }
      case 'pause':
        // Pausing and resuming are activity at that moment: the idle time starts from the
        // resume, and a warning open when pause() is called is dismissed, as activity() does.
        run({ type: 'activity', at: now, now, extend: false })
        return
      case 'logout':
        end('logout', now, true, true)
        return
      case 'hello':
        sync()
        // The new tab learns whether the leader is hidden (see `grace`) from the leader itself.
        if (e.leader) emit({ type: 'visibility', hidden: s.hidden })
        return
      case 'unconfirmed':
        s.unconfirmed = true
        return
      case 'new-device':
        // Only the leader holds the events channel, and the tab in use may be another: the one
        // that heard it tells every other tab of the session. Once the session ended here, the
        // sign-in is no longer this tab's business.
        emit({ ...e, type: 'heard' })
        if (!e.remote) emit(e)
    }
  }
  run(event)
  return { state: s, effects }
}
