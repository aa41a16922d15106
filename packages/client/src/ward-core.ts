import { mediaPlaying, watchActivity, watchMedia } from './activity.ts'
import { explain } from './debug.ts'
import { loadExtras } from './extras-loader.ts'
import { watchLifecycle } from './lifecycle.ts'
import {
  countdown,
  type Effect,
  type MachineEvent,
  type MachineState,
  nextCheck,
  type ShareMessage,
  STOPPED,
  step,
} from './machine.ts'
import {
  type ExpireDetail,
  fail,
  type PauseDetail,
  type ResolvedOptions,
  redirectUrl,
  type StateDetail,
  type WardState,
  type WarnDetail,
} from './options.ts'
import { joinTabs, type Tabs } from './tabs.ts'
import { createVeil, emit, leavePage, type WardDialog } from './ward-dom.ts'
import { createNetwork, type Network } from './ward-network.ts'
import { createAlarm } from './ward-timers.ts'

/** A running (or stoppable) ward; see {@link createSessionWard}. */
export interface SessionWard {
  /** Starts watching; a no-op while running. After expiry or stop it starts a fresh session. */
  start(): void
  /** Removes every listener, timer, channel and the dialog. */
  stop(): void
  /** Records activity the DOM does not show (media playing, a long upload). */
  activity(): void
  /** "Stay signed in": records activity, dismisses the warning in every tab, pings at once. */
  extend(): void
  /**
   * Ends the session in every tab (one logout request, retried until the server confirms) and
   * redirects.
   */
  logout(): void
  getState(): WardState
  /**
   * Whole seconds the countdown shows: until 2 s before the session ends without further
   * activity, so a stay in time reaches the server (0 when not running).
   */
  getRemaining(): number
  /**
   * Holds the ward paused for the app: this tab counts as active in every tab (none warns or
   * expires for inactivity) and the leader keeps the server's session alive, until `resume()`.
   * The server's absolute limit still ends the session. Playing media (`media: true`) and
   * `whilePending` hold it too, each on its own: `resume()` releases only the app's hold.
   * @example
   * ward.pause() // a form the user reads for a long time, a presentation…
   */
  pause(): void
  /** Releases the app's hold from `pause()`; idle time counts from now. */
  resume(): void
  /** True while anything holds this tab paused: the app, playing media, a pending request. */
  isPaused(): boolean
  /**
   * Holds the ward paused while `work` is pending (a long upload, a report being built), and
   * returns it, so it wraps a request in place.
   * @example
   * const response = await ward.whilePending(fetch('/upload', { method: 'POST', body: file }))
   */
  whilePending<T>(work: Promise<T>): Promise<T>
  /** True while this tab is the one that pings the server (false when not running). */
  isLeader(): boolean
  /**
   * Asks for the Idle Detection permission `endOnScreenLock` needs (Chromium): call it from a
   * click handler. True when granted; false where the browser has no such API or it was refused.
   * @example
   * button.addEventListener('click', () => ward.requestScreenLockPermission())
   */
  requestScreenLockPermission(): Promise<boolean>
}

export { LOGOUT_WAIT } from './machine.ts'

/** One run of the ward, from `start()` to the end of its session or `stop()`. */
interface Run {
  network: Network
  tabs: Tabs
  unwatch: Array<() => void>
}

/**
 * Builds the default warning dialog on the ward's options, reading the ward's `state` and
 * answering through `onStay` and `onLogout`: the full entry's (ward.ts), null in
 * `@sessionward/client/headless`, which carries no dialog, countdown, styles or locales.
 */
export type MakeDialog = (
  options: ResolvedOptions,
  state: () => MachineState,
  onStay: () => void,
  onLogout: () => void,
) => WardDialog

/**
 * Creates a ward (`createSessionWard` of either entry) on options its entry validated (each
 * words the errors its own way: options.ts); nothing touches the DOM until `start()`, so
 * importing and constructing are safe during server rendering. `makeDialog` builds the warning
 * dialog when the `dialog` option is on; null: the app shows the warning itself, as with
 * `dialog: false`. The machine (machine.ts) decides; this only performs its effects, through
 * the parts that drive the timers (ward-timers.ts), the network (ward-network.ts) and the page
 * (ward-dom.ts), and the channel between tabs (tabs.ts) as `start()` joins it.
 * @example
 * const ward = createWard(readOptions({ pingUrl: '/session/ping' }, briefly), null)
 * ward.start()
 */
export function createWard(options: ResolvedOptions, makeDialog: MakeDialog | null): SessionWard {
  let state: MachineState = STOPPED
  let run: Run | null = null
  /** The run whose session ended and that still owes its logout (`leave` in machine.ts). */
  let leaving: Run | null = null
  /**
   * What holds this tab paused: the app, media, each pending request (its promise: the same
   * promise twice settles at once). Kept over stop/start.
   */
  const holders = new Set<unknown>()
  /** The run's warning dialog: null without a run (it goes with the run), and headless. */
  let dialog: WardDialog | null = null
  const veil = createVeil()
  /**
   * The timer for the next deadline: the run's, or the logout's it still owes (never both: a
   * new run drops the logout owed).
   */
  const alarm = createAlarm(check)
  const getRemaining = (): number => Math.ceil(countdown(state, Date.now()) / 1000)

  function tick(current: Run) {
    return {
      type: 'check' as const,
      now: Date.now(),
      delay: current.tabs.delay(),
      leader: current.tabs.elected(),
    }
  }

  /** Sets the timer for the next deadline: the run's, or those of a logout still owed (or none). */
  function schedule(): void {
    alarm(
      run ? nextCheck(state, run.tabs.delay(), run.tabs.elected()) : leaving && nextCheck(state, 0),
    )
  }

  function advance(event: MachineEvent): void {
    const result = step(state, event)
    state = result.state
    for (const effect of result.effects) perform(effect)
  }

  function apply(event: MachineEvent): void {
    const previous = state.status
    advance(event)
    let cause = event
    if (event.type !== 'check' && run) {
      const following = tick(run)
      // A change the event did not make comes from the check that follows every event.
      if (state.status === previous) cause = following
      advance(following)
    }
    if (state.status !== previous) {
      // A change of status: the `debug` line (`sessionward: active → warning (answer: idle 840 s,
      // …)`, and the event), the dialog, the app's callbacks and the DOM events.
      if (options.debug) console.debug(`sessionward: ${previous} → ${explain(state, cause)}`, cause)
      const status = state.status
      dialog?.draw()
      emit<StateDetail>('state', { state: status, previous }, options.onStateChange)
      if (status === 'warning')
        emit<WarnDetail>('warn', { remaining: getRemaining() }, options.onWarn)
      if (status === 'active' && previous === 'warning') emit('active', {}, options.onActive)
      if (status === 'expired') {
        emit<ExpireDetail>('expire', { reason: state.reason ?? 'idle' }, options.onExpire)
      }
    }
    schedule()
  }

  function check(ask?: boolean): void {
    // A playing element removed from the page pauses without an event the document sees.
    if (options.media && run) hold('media', mediaPlaying(document))
    if (run) apply({ ...tick(run), ask })
    else if (leaving) apply({ type: 'check', now: Date.now(), delay: 0 })
  }

  /** Tells the machine whether this tab is hidden; the leader tells the other tabs too. */
  function visibility(current: Run): void {
    apply({ type: 'visibility', hidden: document.hidden, leader: current.tabs.elected() })
  }

  function perform(effect: Effect): void {
    const current = run ?? leaving
    if (!current) return
    // The network's methods are named for the effects they perform (ward-network.ts); `never`:
    // TypeScript cannot pair each effect with its method.
    if (effect.type in current.network)
      current.network[effect.type as keyof Network](effect as never, state.lastPingAt)
    else if (effect.type === 'veil') veil(effect.hidden)
    else if (effect.type === 'close') current.tabs.leave()
    // New-device sign-ins (issue 23): read and shown by a module loaded on the first one.
    else if (effect.type === 'heard')
      loadExtras().then((extras) => extras.heard(effect.data, options, !!dialog))
    else if (effect.type === 'end') {
      run = null
      leaving = current
      release(current)
    } else if (effect.type === 'leave') {
      leaving = null
      void leave()
    }
    // The rest are messages for the other tabs, each its own effect (machine.ts).
    else current.tabs.post(effect as ShareMessage)
  }

  /** The logout is settled: to `redirectTo` with the reason, unless the app stopped or restarted. */
  async function leave(): Promise<void> {
    // After the end has been announced: listeners see it before the page goes.
    await undefined
    const to = options.redirectTo
    if (run || !to || state.status !== 'expired') return veil(false)
    const navigate = options.navigate ?? ((url) => location.assign(url))
    leavePage(redirectUrl(to, state.reason ?? 'idle'), navigate, veil, () => run !== null)
  }

  /**
   * Stops watching: every listener of the run, its events channel and its dialog. Always within
   * or before an apply(), which sets the timer again (none once nothing is owed).
   */
  function release(current: Run): void {
    current.network.unlisten()
    for (const unwatch of current.unwatch) unwatch()
    // Media that plays on when the ward starts again is found again then.
    holders.delete('media')
    dialog?.destroy()
    dialog = null
  }

  /** `holder` starts (`held`) or stops holding the ward; the machine hears when that flips. */
  function hold(holder: unknown, held: boolean): void {
    const was = holders.size > 0
    if (held) holders.add(holder)
    else holders.delete(holder)
    if (was === holders.size > 0) return
    if (run) apply({ type: 'pause', now: Date.now(), paused: !was })
    // Media and pending requests flip it too, not only the app: whoever shows it must hear.
    emit<PauseDetail>('pause', { paused: !was })
  }

  function local(extend: boolean): void {
    const at = Date.now()
    apply({ type: 'activity', at, now: at, extend })
  }

  function start(): void {
    if (run) return
    if (!globalThis.window) fail('start() needs a browser window')
    // A new session here: the last one's logout is no longer owed (a retry would end this one;
    // the start sets the timer for this run's deadlines instead).
    leaving?.tabs.leave()
    leaving = null
    dialog =
      options.dialog && makeDialog
        ? makeDialog(
            options,
            () => state,
            () => local(true),
            () => apply({ type: 'logout', now: Date.now() }),
          )
        : null
    // What this run hears: the network's outcomes while it runs or owes its logout; the other
    // tabs' messages while it runs.
    const owed = (event: MachineEvent): void => {
      if ((run ?? leaving) === current) apply(event)
    }
    // Joins the channel between tabs (again after the tab was frozen: joining says hello, so the
    // others tell it what it missed). Another tab's message reaches the machine as an event: it
    // happened there (`remote`), and this tab's election decides whether it answers a `hello`
    // as the leader; `bye` only tells the roster (tabs.ts) who is left. A new leader tells the
    // others whether it is hidden.
    const rejoin = (): Tabs => {
      const tabs = joinTabs({
        ...options,
        onMessage: (message) => {
          if (message.type === 'bye' || run !== current) return
          const heard = { ...message, now: Date.now(), remote: true, leader: tabs.elected() }
          apply(heard)
        },
        onLeader: () => {
          if (run === current) visibility(current)
        },
      })
      return tabs
    }
    const unwatch: Array<() => void> = []
    /** The tab left the channel when it froze; it joins again when it wakes. */
    let frozen = false
    const current: Run = {
      network: createNetwork(options, owed),
      tabs: rejoin(),
      unwatch,
    }
    run = current
    // Watches the page for the run: activity, the tab's life (frozen, woken, restored: `rejoin`
    // joins the channel again), media.
    unwatch.push(
      // While the dialog is open only an answer in it (or the app) dismisses the warning: a
      // wheel turned over the backdrop or a key pressed in it is not one (react-idle-timer
      // ignores activity while prompted). Headless, the app decides and page activity counts.
      watchActivity(
        window,
        () => local(false),
        () => dialog?.isOpen() ?? false,
        options.activityEvents,
      ),
      watchLifecycle(
        window,
        (resumed, restored) => {
          // A frozen tab may have missed messages: it asks the others where things stand
          // (joining again says hello too).
          if (frozen) current.tabs = rejoin()
          else if (resumed) current.tabs.post({ type: 'hello' })
          frozen = false
          visibility(current)
          // Back from the back/forward cache: the server, not this page, says if it is live;
          // until it has, nothing of the page shows (the machine veils it).
          check(restored)
        },
        () => {
          // A frozen leader would keep its lock and its stream, delivering nothing: leaving
          // the channel hands both to another tab at once.
          current.tabs.leave()
          frozen = true
          check()
        },
      ),
    )
    if (options.media) unwatch.push(watchMedia(document, (playing) => hold('media', playing)))
    // A locked screen ends the session in every tab, as a server end would (extras.ts).
    if (options.endOnScreenLock)
      loadExtras().then((extras) => {
        if (run === current) unwatch.push(extras.endOnScreenLock(options, apply))
      })
    apply({
      type: 'start',
      now: Date.now(),
      warnAfter: options.warnAfter,
      expireAfter: options.expireAfter,
      events: options.eventsUrl !== null,
    })
    // Held before it started (holders are kept over stop/start): the machine hears it now.
    if (holders.size > 0) apply({ type: 'pause', now: Date.now(), paused: true })
    visibility(current)
  }

  return {
    start,
    stop() {
      veil(false)
      if (run) {
        release(run)
        run.tabs.leave()
        run = null
      }
      // A logout still owed goes on (machine.ts, `stop`).
      apply({ type: 'stop' })
    },
    activity: () => local(false),
    extend: () => local(true),
    logout: () => apply({ type: 'logout', now: Date.now() }),
    getState: () => state.status,
    getRemaining,
    pause: () => hold('app', true),
    resume: () => hold('app', false),
    isPaused: () => holders.size > 0,
    whilePending<T>(work: Promise<T>): Promise<T> {
      hold(work, true)
      // A new promise settled like `work`: a rejection nobody handles is still reported.
      return work.finally(() => hold(work, false))
    },
    isLeader: () => !!run?.tabs.isLeader(),
    requestScreenLockPermission: () =>
      loadExtras().then((extras) => extras.requestScreenLockPermission()),
  }
}
