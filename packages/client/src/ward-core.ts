import { mediaPlaying, watchActivity, watchMedia } from './activity.ts'
import { explain } from './debug.ts'
import type { Dialog, DialogOptions } from './dialog.ts'
import { loadEvents } from './events-loader.ts'
import { loadExtras } from './extras-loader.ts'
import { leave } from './leaving.ts'
import { watchLifecycle } from './lifecycle.ts'
import {
  COUNTDOWN_MARGIN,
  countdown,
  type Effect,
  type MachineEvent,
  type MachineState,
  nextCheck,
  STOPPED,
  shared,
  step,
} from './machine.ts'
import {
  type ExpireDetail,
  type PauseDetail,
  redirectUrl,
  resolveOptions,
  type SessionWardOptions,
  type StateDetail,
  type WardState,
  type WarnDetail,
} from './options.ts'
import { connect, type Server } from './server.ts'
import { joinTabs, type TabMessage, type Tabs } from './tabs.ts'

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

export { LOGOUT_WAIT } from './leaving.ts'

/** setTimeout runs a longer delay at once, so long waits are checked in steps. */
const MAX_DELAY = 2 ** 31 - 1

interface Run {
  tabs: Tabs
  /** The tab left the channel when it froze; it rejoins when it resumes. */
  frozen: boolean
  /** Closes the events channel this tab holds. */
  unlisten: (() => void) | null
  server: Server
  dialog: Dialog | null
  timer: ReturnType<typeof setTimeout> | undefined
  ticker: ReturnType<typeof setTimeout> | undefined
  unwatch: Array<() => void>
}

/**
 * Builds the default warning dialog, or null for none: `createDialog` in the full entry, null
 * in `@sessionward/client/headless`, which carries no dialog, styles or locales.
 */
export type MakeDialog = (doc: Document, options: DialogOptions) => Dialog

/**
 * Creates a ward (`createSessionWard` of either entry): options are validated here (a clear
 * TypeError on bad input); nothing touches the DOM until `start()`, so importing and
 * constructing are safe during server rendering. `makeDialog` builds the warning dialog when
 * the `dialog` option is on; null: the app shows the warning itself, as with `dialog: false`.
 * @example
 * const ward = createWard({ pingUrl: '/session/ping', onWarn: ({ remaining }) => console.log(remaining) }, null)
 * ward.start()
 */
export function createWard(input: SessionWardOptions, makeDialog: MakeDialog | null): SessionWard {
  const options = resolveOptions(input)
  let state: MachineState = STOPPED
  let run: Run | null = null
  /** What holds this tab paused: the app, media, each pending request. Kept over stop/start. */
  const holders = new Set<unknown>()
  /** The page is hidden until the server answers (see `veil`). */
  let veiled = false

  const now = (): number => Date.now()

  /**
   * Hides the whole page (`visibility: hidden` on `<html>`, which also keeps it from taking
   * input) or shows it again. A page back from the back/forward cache stays hidden until the
   * server has answered: it may show a session that ended while it was cached.
   */
  function veil(hidden: boolean): void {
    // Only what it hid: the app's own inline style on <html> is left alone.
    if (hidden || veiled) document.documentElement.style.visibility = hidden ? 'hidden' : ''
    veiled = hidden
  }
  const fetcher = (): typeof fetch => options.fetch ?? ((url, init) => fetch(url, init))

  function emit<T>(name: string, detail: T, callback?: (detail: T) => void): void {
    try {
      callback?.(detail)
    } catch (error) {
      console.error(`sessionward: on${name} threw`, error)
    }
    window.dispatchEvent(new CustomEvent(`sessionward:${name}`, { detail }))
  }

  function getRemaining(): number {
    return Math.ceil(countdown(state, now()) / 1000)
  }

  /**
   * Draws the dialog, and again when its whole seconds change: on the countdown's own seconds,
   * not a free-running interval, so every tab shows the same number at the same moment.
   */
  function render(current: Run): void {
    clearTimeout(current.ticker)
    if (state.status !== 'warning') {
      current.dialog?.hide()
      return
    }
    const left = countdown(state, now())
    current.dialog?.show(left, state.expireAfter - state.warnAfter - COUNTDOWN_MARGIN)
    if (current.dialog !== null && left > 0) {
      current.ticker = setTimeout(() => render(current), left % 1000 || 1000)
    }
  }

  function announce(previous: WardState): void {
    const status = state.status
    if (run !== null) render(run)
    emit<StateDetail>('state', { state: status, previous }, options.onStateChange)
    if (status === 'warning')
      emit<WarnDetail>('warn', { remaining: getRemaining() }, options.onWarn)
    if (status === 'active' && previous === 'warning') emit('active', {}, options.onActive)
    if (status === 'expired') {
      emit<ExpireDetail>('expire', { reason: state.reason ?? 'idle' }, options.onExpire)
    }
  }

  const tick = (current: Run) => ({
    type: 'check' as const,
    now: now(),
    delay: current.tabs.delay(),
    leader: current.tabs.elected(),
  })

  function schedule(): void {
    if (run === null) return
    clearTimeout(run.timer)
    const at = nextCheck(state, run.tabs.delay(), run.tabs.elected())
    run.timer =
      at === null ? undefined : setTimeout(check, Math.min(Math.max(0, at - now()), MAX_DELAY))
  }

  function advance(event: MachineEvent): void {
    const result = step(state, event)
    state = result.state
    for (const effect of result.effects) perform(effect)
  }

  /** The `debug` line: `sessionward: active → warning (answer: idle 840 s, …)`, and the event. */
  function debug(previous: WardState, change: string, ...cause: MachineEvent[]): void {
    if (options.debug) console.debug(`sessionward: ${previous} → ${change}`, ...cause)
  }

  function apply(event: MachineEvent): void {
    const previous = state.status
    advance(event)
    let cause = event
    if (event.type !== 'check' && run !== null) {
      const following = tick(run)
      // A change the event did not make comes from the check that follows every event.
      if (state.status === previous) cause = following
      advance(following)
    }
    if (state.status !== previous) {
      debug(previous, explain(state, cause), cause)
      announce(previous)
    }
    schedule()
  }

  function check(ask?: boolean): void {
    // A playing element removed from the page pauses without an event the document sees.
    if (options.media && run !== null) hold('media', mediaPlaying(document))
    if (run !== null) apply({ ...tick(run), ask })
  }

  /** Tells the machine whether this tab is hidden; the leader tells the other tabs too. */
  function visibility(current: Run): void {
    const leader = current.tabs.elected()
    apply({ type: 'visibility', hidden: document.hidden, leader, remote: false })
  }

  function perform(effect: Effect): void {
    const current = run
    if (current === null) return
    if (effect.type === 'ping') void ping(current, state.lastPingAt, effect.idleFor)
    else if (effect.type === 'share') current.tabs.post(effect.message)
    else if (effect.type === 'listen') open(current)
    else if (effect.type === 'unlisten') close(current)
    else if (effect.type === 'veil') veil(effect.hidden)
    else {
      run = null
      release(current)
      void leave(
        {
          server: current.server,
          tabs: current.tabs,
          shared: () => shared(state),
          restarted: () => run !== null,
          destination: () =>
            run === null && options.redirectTo && state.status === 'expired'
              ? redirectUrl(options.redirectTo, state.reason ?? 'idle')
              : null,
          navigate: options.navigate ?? ((url) => window.location.assign(url)),
          veil,
        },
        effect,
      )
    }
  }

  /**
   * Opens the events channel. Its code (the streamed fetch, the SSE parsing) is a chunk of its
   * own, loaded when the leader first opens the channel: no page waits for it, and followers
   * never load it. A chunk that cannot load is a channel that failed: pings go on.
   */
  function open(current: Run): void {
    close(current)
    let closed = false
    let stop = (): void => {}
    current.unlisten = () => {
      closed = true
      stop()
    }
    const events = (event: MachineEvent): void => {
      if (!closed && run === current) apply(event)
    }
    loadEvents().then(
      ({ listen }) => {
        if (closed) return
        stop = listen({
          url: options.eventsUrl as string,
          headers: options.headers,
          fetch: fetcher(),
          onPolicy: (warnAfter, expireAfter) =>
            events({ type: 'policy', now: now(), warnAfter, expireAfter }),
          onEnded: (reason) => events({ type: 'ended', now: now(), reason, pushed: true }),
          onLost: () => events({ type: 'lost', now: now() }),
          // New-device sign-ins (issue 23): read and shown by a module loaded on the first one.
          onNewDevice: (data) =>
            loadExtras().then((extras) => extras.heard(data, options, !!current.dialog)),
        })
      },
      () => events({ type: 'lost', now: now() }),
    )
  }

  function close(current: Run): void {
    current.unlisten?.()
    current.unlisten = null
  }

  async function ping(current: Run, sentAt: number, idleFor: number): Promise<void> {
    const outcome = await current.server.ping(idleFor)
    if (run !== current) return
    if (outcome.kind === 'answer') apply({ type: 'answer', now: now(), sentAt, view: outcome.view })
    else if (outcome.kind === 'ended') apply({ type: 'ended', now: now(), reason: outcome.reason })
    else apply({ type: 'unreachable', now: now() })
  }

  function release(current: Run): void {
    close(current)
    clearTimeout(current.timer)
    clearTimeout(current.ticker)
    for (const unwatch of current.unwatch) unwatch()
    // Media that plays on when the ward starts again is found again then.
    holders.delete('media')
    current.dialog?.destroy()
  }

  /**
   * Another tab's message, as an event of the machine: it happened there (`remote`), and this
   * tab's election decides whether it answers a `hello` as the leader. `bye` only tells the
   * roster (tabs.ts) who is left.
   */
  function receive(current: Run, message: TabMessage): void {
    if (run !== current || message.type === 'bye') return
    const heard = { ...message, now: now(), remote: true, leader: current.tabs.elected() }
    apply(heard)
  }

  /** `holder` starts (`held`) or stops holding the ward; the machine hears when that flips. */
  function hold(holder: unknown, held: boolean): void {
    const was = holders.size > 0
    if (held) holders.add(holder)
    else holders.delete(holder)
    if (was === holders.size > 0) return
    pauseIfHeld()
    // Media and pending requests flip it too, not only the app: whoever shows it must hear.
    if (typeof window !== 'undefined') emit<PauseDetail>('pause', { paused: !was })
  }

  function pauseIfHeld(): void {
    if (run !== null) apply({ type: 'pause', now: now(), paused: holders.size > 0 })
  }

  function local(extend: boolean): void {
    const at = now()
    apply({ type: 'activity', at, now: at, extend, remote: false })
  }

  return {
    start() {
      if (run !== null) return
      if (typeof window === 'undefined') {
        throw new TypeError('sessionward: start() needs a browser window')
      }
      const dialog =
        options.dialog && makeDialog
          ? makeDialog(document, {
              texts: options.texts,
              locale: options.locale,
              nonce: options.nonce,
              onStay: () => local(true),
              onLogout: () => apply({ type: 'logout', now: now() }),
            })
          : null
      const join = (): Tabs =>
        joinTabs({
          name: options.channelName,
          type: options.channelType,
          onMessage: (message) => receive(current, message),
          onLeader: () => {
            if (run === current) visibility(current)
          },
        })
      const current: Run = {
        server: connect({
          pingUrl: options.pingUrl,
          logoutUrl: options.logoutUrl,
          headers: options.headers,
          fetch: fetcher(),
        }),
        dialog,
        tabs: join(),
        frozen: false,
        unlisten: null,
        timer: undefined,
        ticker: undefined,
        unwatch: [],
      }
      run = current
      current.unwatch.push(
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
            // A frozen tab may have missed messages: ask the others where things stand
            // (joining again says hello too).
            if (current.frozen) current.tabs = join()
            else if (resumed) current.tabs.post({ type: 'hello' })
            current.frozen = false
            visibility(current)
            // Back from the back/forward cache: the server, not this page, says if it is live;
            // until it has, nothing of the page shows (the machine veils it).
            check(restored)
          },
          () => {
            // A frozen leader would keep its lock and its stream, delivering nothing: leaving
            // the channel hands both to another tab at once.
            current.tabs.close()
            current.frozen = true
            check()
          },
        ),
      )
      if (options.media)
        current.unwatch.push(watchMedia(document, (playing) => hold('media', playing)))
      // A locked screen ends the session in every tab, as a server end would (screen-lock.ts).
      if (options.endOnScreenLock)
        loadExtras().then((extras) => {
          if (run === current)
            current.unwatch.push(
              extras.watchScreenLock(options, () =>
                apply({ type: 'ended', now: now(), reason: 'screen_lock' }),
              ),
            )
        })
      apply({
        type: 'start',
        now: now(),
        warnAfter: options.warnAfter,
        expireAfter: options.expireAfter,
        events: options.eventsUrl !== null,
      })
      if (holders.size > 0) pauseIfHeld()
      visibility(current)
    },
    stop() {
      veil(false)
      const previous = state.status
      if (run !== null) {
        release(run)
        run.tabs.close()
        run = null
      }
      state = STOPPED
      if (previous !== 'stopped') {
        debug(previous, 'stopped (stop)')
        announce(previous)
      }
    },
    activity: () => local(false),
    extend: () => local(true),
    logout: () => apply({ type: 'logout', now: now() }),
    getState: () => state.status,
    getRemaining,
    pause: () => hold('app', true),
    resume: () => hold('app', false),
    isPaused: () => holders.size > 0,
    whilePending<T>(work: Promise<T>): Promise<T> {
      const holder = {}
      hold(holder, true)
      // A new promise settled like `work`: a rejection nobody handles is still reported.
      return work.finally(() => hold(holder, false))
    },
    isLeader: () => run?.tabs.isLeader() === true,
    requestScreenLockPermission: () => loadExtras().then((extras) => extras.askPermission()),
  }
}
