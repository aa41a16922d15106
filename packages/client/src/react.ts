/**
 * `@sessionward/client/react`: a provider that runs one ward for the tree below it, and a hook
 * that shows its state. Safe in server rendering (nothing touches `window` while rendering) and
 * under StrictMode (its double mount starts one ward, never two).
 */
import type { NewDeviceDetail, SessionWard, SessionWardOptions } from '@sessionward/client'
import {
  createContext,
  createElement,
  type ReactNode,
  useContext,
  useEffect,
  useState,
  useSyncExternalStore,
} from 'react'
import {
  actionsOf,
  holdWard,
  NEW_DEVICE_STORE,
  SERVER_SNAPSHOT,
  storeOf,
  type WardActions,
  type WardSnapshot,
  wardFrom,
} from './adapter.ts'

export type { WardActions, WardSnapshot } from './adapter.ts'

/** What `useSessionWard()` gives: the ward's state, its countdown, and its actions. */
export type SessionWardHandle = WardSnapshot & WardActions

/**
 * The provider's props: the ward's options (it creates the ward once, on first render), or a
 * ward the app created itself.
 */
export type SessionWardProviderProps = { children?: ReactNode } & (
  | { options: SessionWardOptions; ward?: undefined }
  | { ward: SessionWard; options?: undefined }
)

const WardContext = createContext<SessionWard | null>(null)

/**
 * Runs a ward while mounted: started after the first mount, stopped after the last unmount.
 * Options are read once: the ward keeps those it was created with (remount the provider with a
 * new `key` to change them).
 * @example
 * <SessionWardProvider options={{ pingUrl: '/session/ping', logoutUrl: '/session/logout',
 *   redirectTo: '/login?reason=idle' }}>
 *   <App />
 * </SessionWardProvider>
 */
export function SessionWardProvider(props: SessionWardProviderProps): ReactNode {
  const [created] = useState(() => (props.ward ? null : wardFrom(props.options)))
  const ward = props.ward ?? created
  if (ward === null) {
    throw new TypeError('sessionward: SessionWardProvider needs `options` or a `ward`')
  }
  useEffect(() => holdWard(ward), [ward])
  return createElement(WardContext.Provider, { value: ward }, props.children)
}

/**
 * The ward of the nearest `SessionWardProvider`: its state, the countdown's seconds while
 * warning, and its actions (the same functions on every render).
 * @example
 * const { state, remaining, extend, logout } = useSessionWard()
 * if (state === 'warning') return <p>Signed out in {remaining} s <button onClick={extend}>Stay</button></p>
 */
export function useSessionWard(): SessionWardHandle {
  const ward = useContext(WardContext)
  if (ward === null) {
    throw new Error('sessionward: useSessionWard() must be called inside <SessionWardProvider>')
  }
  const store = storeOf(ward)
  const snapshot = useSyncExternalStore(store.subscribe, store.getSnapshot, serverSnapshot)
  return { ...snapshot, ...actionsOf(ward) }
}

const serverSnapshot = (): WardSnapshot => SERVER_SNAPSHOT

/** What `useNewDevice()` gives: the latest new-device sign-in heard, and how to dismiss it. */
export interface NewDeviceHandle {
  /** Null until a sign-in from a new device of this user is heard (and after `dismiss`). */
  notice: NewDeviceDetail | null
  dismiss(): void
}

const noNotice = (): null => null

/**
 * The latest new-device sign-in heard in this tab (`sessionward:new-device`), for an app that
 * draws its own notice (`dialog: false`, or the headless entry): `notice.end()` ends that
 * session as reported, `notice.approve()` lets a held one in. Needs no provider.
 * @example
 * const { notice, dismiss } = useNewDevice()
 * if (notice) return <p role="status">New sign-in: {notice.browser} <button onClick={notice.end}>Not you?</button></p>
 */
export function useNewDevice(): NewDeviceHandle {
  const notice = useSyncExternalStore(
    NEW_DEVICE_STORE.subscribe,
    NEW_DEVICE_STORE.getSnapshot,
    noNotice,
  )
  return { notice, dismiss: NEW_DEVICE_STORE.dismiss }
}
