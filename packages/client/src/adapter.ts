/**
 * What the React and Vue adapters share, framework-free: a ward's state as a snapshot one can
 * subscribe to, the actions bound to the ward, and a counted hold that starts the ward for its
 * first user and stops it after its last. The adapters import the core through the package's
 * own name, so their files carry none of it: `dist/sessionward.js` stays one copy for the app.
 */
import {
  createSessionWard,
  type NewDeviceDetail,
  type SessionWard,
  type SessionWardOptions,
  type WardState,
} from '@sessionward/client'

/** What a component shows: it changes only when one of these does. */
export interface WardSnapshot {
  state: WardState
  /**
   * Whole seconds the countdown shows while `state` is `warning`, updated each second; 0 in
   * every other state (an active session's time left moves every second, and a page that showed
   * it would render every second for nothing).
   */
  remaining: number
  /** Anything holds the tab paused: `pause()`, playing media, a pending request. */
  paused: boolean
}

/** What the adapters give besides the snapshot: the ward's actions, bound. */
export interface WardActions {
  /** "Stay signed in": dismisses the warning in every tab and tells the server at once. */
  extend(): void
  /** Ends the session in every tab (one logout request) and redirects. */
  logout(): void
  /** Holds the session open while the app needs it (a video, a long form); see `resume`. */
  pause(): void
  /** Releases the hold of `pause()`; idle time counts from now. */
  resume(): void
  /** True while this tab is the one that pings the server. */
  isLeader(): boolean
  /** The ward itself, for anything else (`activity()`, `whilePending()`). */
  ward: SessionWard
}

/** A ward as an external store (React's `useSyncExternalStore` shape). */
export interface WardStore {
  subscribe(listener: () => void): () => void
  getSnapshot(): WardSnapshot
}

/** What server rendering and hydration show: nothing runs on the server. */
export const SERVER_SNAPSHOT: WardSnapshot = Object.freeze({
  state: 'stopped',
  remaining: 0,
  paused: false,
})

/**
 * How often a warning's countdown is read. The adapters cannot see the countdown's
 * milliseconds, only its whole seconds (`getRemaining()`): reading four times a second shows
 * each new second within a quarter of one; listeners hear only the changes.
 */
export const COUNTDOWN_READ = 250

/**
 * A ward's snapshot now, or `previous` itself when nothing in it changed (React compares
 * snapshots by identity).
 * @example
 * readWard(ward, SERVER_SNAPSHOT) // { state: 'active', remaining: 0, paused: false }
 */
export function readWard(ward: SessionWard, previous: WardSnapshot): WardSnapshot {
  const state = ward.getState()
  const remaining = state === 'warning' ? ward.getRemaining() : 0
  const paused = ward.isPaused()
  return state === previous.state && remaining === previous.remaining && paused === previous.paused
    ? previous
    : { state, remaining, paused }
}

/**
 * The store of a ward. It listens for `sessionward:state` and `sessionward:pause` (every ward
 * on the page announces its changes there; the store reads its own ward, whichever one spoke) and, while warning,
 * reads the countdown on a timer. Nothing touches `window` until the first subscriber.
 */
function createStore(ward: SessionWard): WardStore {
  let snapshot = readWard(ward, SERVER_SNAPSHOT)
  const listeners = new Set<() => void>()
  let ticker: ReturnType<typeof setInterval> | undefined

  function refresh(): void {
    const next = readWard(ward, snapshot)
    const warning = next.state === 'warning' && listeners.size > 0
    if (warning && ticker === undefined) ticker = setInterval(refresh, COUNTDOWN_READ)
    if (!warning && ticker !== undefined) {
      clearInterval(ticker)
      ticker = undefined
    }
    if (next === snapshot) return
    snapshot = next
    for (const listener of [...listeners]) listener()
  }

  return {
    subscribe(listener) {
      listeners.add(listener)
      if (listeners.size === 1) {
        window.addEventListener('sessionward:state', refresh)
        window.addEventListener('sessionward:pause', refresh)
      }
      refresh()
      return () => {
        listeners.delete(listener)
        if (listeners.size > 0) return
        window.removeEventListener('sessionward:state', refresh)
        window.removeEventListener('sessionward:pause', refresh)
        refresh() // stops the countdown's timer
      }
    },
    getSnapshot: () => snapshot,
  }
}

const stores = new WeakMap<SessionWard, WardStore>()

/** One store per ward, shared by every component that shows it. */
export function storeOf(ward: SessionWard): WardStore {
  let store = stores.get(ward)
  if (store === undefined) {
    store = createStore(ward)
    stores.set(ward, store)
  }
  return store
}

const actions = new WeakMap<SessionWard, WardActions>()

/** The ward's actions, the same functions on every call (stable props and effect deps). */
export function actionsOf(ward: SessionWard): WardActions {
  let bound = actions.get(ward)
  if (bound === undefined) {
    bound = {
      extend: () => ward.extend(),
      logout: () => ward.logout(),
      pause: () => ward.pause(),
      resume: () => ward.resume(),
      isLeader: () => ward.isLeader(),
      ward,
    }
    actions.set(ward, bound)
  }
  return bound
}

interface Hold {
  count: number
  /** The hold started the ward (false: it was running already, and it is the app's to stop). */
  owned: boolean
  release: ReturnType<typeof setTimeout> | undefined
}

const holds = new WeakMap<SessionWard, Hold>()

/**
 * Starts the ward for its first holder and stops it once the last one let go, one task later:
 * React's StrictMode mounts, unmounts and mounts again at once, and that must not stop the ward
 * and start a second session (a second hello on the channel, a second ping). A ward already
 * running when first held is left running; an ended one is left to finish its redirect.
 * @example
 * useEffect(() => holdWard(ward), [ward]) // start on mount, stop after the last unmount
 */
export function holdWard(ward: SessionWard): () => void {
  let hold = holds.get(ward)
  if (hold === undefined) {
    const state = ward.getState()
    hold = { count: 0, owned: state !== 'active' && state !== 'warning', release: undefined }
    holds.set(ward, hold)
    // Only the first holder starts it: one that comes after an expiry must not begin a new
    // session while the ended one is being redirected away.
    if (hold.owned) ward.start()
  }
  const current = hold
  clearTimeout(current.release)
  current.release = undefined
  current.count++
  let held = true
  return () => {
    if (!held) return
    held = false
    current.count--
    if (current.count > 0) return
    current.release = setTimeout(() => {
      holds.delete(ward)
      // An ended ward runs nothing but its logout and redirect: stop() would cancel the redirect.
      const state = ward.getState()
      if (current.owned && (state === 'active' || state === 'warning')) ward.stop()
    })
  }
}

/**
 * The ward itself, or a new one from options (the adapters take either). Creating touches no
 * DOM, so it is safe while rendering on a server.
 */
export function wardFrom(input: SessionWard | SessionWardOptions): SessionWard {
  return typeof (input as Partial<SessionWard> | undefined)?.start === 'function'
    ? (input as SessionWard)
    : createSessionWard(input as SessionWardOptions)
}

/**
 * The latest new-device sign-in the page heard (`sessionward:new-device`, issue 23), as a store
 * the adapters share: null until one arrives, and again once dismissed.
 */
export interface NewDeviceStore {
  subscribe(listener: () => void): () => void
  getSnapshot(): NewDeviceDetail | null
  /** Forgets the current one (the app's notice was closed). */
  dismiss(): void
}

let latest: NewDeviceDetail | null = null
const newDeviceListeners = new Set<() => void>()

function setLatest(detail: NewDeviceDetail | null): void {
  latest = detail
  for (const listener of [...newDeviceListeners]) listener()
}

const heardNewDevice = (event: WindowEventMap['sessionward:new-device']): void =>
  setLatest(event.detail)

/**
 * The page's new-device store: it listens on `window` while anything subscribes. Every ward of
 * the page announces there, so there is one store, not one per ward.
 * @example
 * NEW_DEVICE_STORE.subscribe(() => show(NEW_DEVICE_STORE.getSnapshot()))
 */
export const NEW_DEVICE_STORE: NewDeviceStore = {
  subscribe(listener) {
    newDeviceListeners.add(listener)
    if (newDeviceListeners.size === 1)
      window.addEventListener('sessionward:new-device', heardNewDevice)
    return () => {
      newDeviceListeners.delete(listener)
      if (newDeviceListeners.size === 0) {
        window.removeEventListener('sessionward:new-device', heardNewDevice)
      }
    }
  },
  getSnapshot: () => latest,
  dismiss: () => setLatest(null),
}
