/**
 * `@sessionward/client/vue`: a composable that runs a ward while the component is mounted and
 * shows its state as refs. Nothing runs in server rendering (no `onMounted` there).
 */
import type {
  NewDeviceDetail,
  SessionWard,
  SessionWardOptions,
  WardState,
} from '@sessionward/client'
import { onMounted, onUnmounted, type Ref, readonly, shallowRef } from 'vue'
import {
  actionsOf,
  holdWard,
  NEW_DEVICE_STORE,
  SERVER_SNAPSHOT,
  storeOf,
  type WardActions,
  wardFrom,
} from './adapter.ts'

export type { WardActions } from './adapter.ts'

/** What `useSessionWard()` gives: the ward's state and countdown as refs, and its actions. */
export interface SessionWardRefs extends WardActions {
  state: Readonly<Ref<WardState>>
  /** The countdown's whole seconds while `state` is `warning`, updated each second; else 0. */
  remaining: Readonly<Ref<number>>
  /** Anything holds the tab paused: `pause()`, playing media, a pending request. */
  paused: Readonly<Ref<boolean>>
}

/**
 * Runs a ward while the calling component is mounted (started in `onMounted`, stopped after
 * the last component using it unmounted) and shows its state. Takes the ward's options, or a
 * ward the app created (to share one between components, e.g. through `provide`).
 * @example
 * const { state, remaining, extend, logout } = useSessionWard({ pingUrl: '/session/ping',
 *   logoutUrl: '/session/logout', redirectTo: '/login?reason=idle' })
 */
export function useSessionWard(input: SessionWardOptions | SessionWard): SessionWardRefs {
  const ward = wardFrom(input)
  const store = storeOf(ward)
  const state = shallowRef<WardState>(SERVER_SNAPSHOT.state)
  const remaining = shallowRef(SERVER_SNAPSHOT.remaining)
  const paused = shallowRef(SERVER_SNAPSHOT.paused)
  const show = (): void => {
    const snapshot = store.getSnapshot()
    state.value = snapshot.state
    remaining.value = snapshot.remaining
    paused.value = snapshot.paused
  }
  let release: (() => void) | null = null
  let unsubscribe: (() => void) | null = null
  onMounted(() => {
    release = holdWard(ward)
    unsubscribe = store.subscribe(show)
    show()
  })
  onUnmounted(() => {
    unsubscribe?.()
    release?.()
  })
  return {
    state: readonly(state),
    remaining: readonly(remaining),
    paused: readonly(paused),
    ...actionsOf(ward),
  }
}

/** What `useNewDevice()` gives: the latest new-device sign-in heard, as a ref. */
export interface NewDeviceRefs {
  /** Null until a sign-in from a new device of this user is heard (and after `dismiss`). */
  notice: Readonly<Ref<NewDeviceDetail | null>>
  dismiss(): void
}

/**
 * The latest new-device sign-in heard in this tab (`sessionward:new-device`) while the calling
 * component is mounted, for an app that draws its own notice: `notice.value.end()` ends that
 * session as reported, `notice.value.approve()` lets a held one in.
 * @example
 * const { notice, dismiss } = useNewDevice()
 */
export function useNewDevice(): NewDeviceRefs {
  const notice = shallowRef<NewDeviceDetail | null>(null)
  const show = (): void => {
    notice.value = NEW_DEVICE_STORE.getSnapshot()
  }
  let unsubscribe: (() => void) | null = null
  onMounted(() => {
    unsubscribe = NEW_DEVICE_STORE.subscribe(show)
    show()
  })
  onUnmounted(() => unsubscribe?.())
  return {
    notice: readonly(notice) as Readonly<Ref<NewDeviceDetail | null>>,
    dismiss: NEW_DEVICE_STORE.dismiss,
  }
}
