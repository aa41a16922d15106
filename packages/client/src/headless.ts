/**
 * @sessionward/client/headless: everything but the dialog and its locales (activity, tabs,
 * leader, server sync, the events channel, pause/resume, media, `whilePending`), for an app
 * that shows the warning itself (`onWarn`, the `sessionward:*` events, the adapters' state).
 * The full entry is this plus the dialog. Importing this module touches no DOM; `ward.start()`
 * does.
 */
import type { NewDeviceDetail } from './new-device-detail.ts'
import {
  briefly,
  type ExpireDetail,
  type PauseDetail,
  readOptions,
  type SessionWardOptions,
  type StateDetail,
  type WarnDetail,
} from './options.ts'
import { createWard, type SessionWard } from './ward-core.ts'

export type { NewDeviceDetail } from './new-device-detail.ts'

export type {
  ChannelType,
  ExpireDetail,
  ExpireReason,
  HeadersOption,
  PauseDetail,
  SessionWardOptions,
  StateDetail,
  WardState,
  WarnDetail,
} from './options.ts'
export type { SessionWard } from './ward-core.ts'

/**
 * Creates a ward without the default dialog, whatever `dialog` says (`locale`, `texts` and
 * `nonce` are checked, and unused): page input dismisses a warning, as with `dialog: false`.
 * Options are validated here (a TypeError naming the bad option and its value; the full entry
 * also says what it must be); nothing touches the DOM until `start()`.
 * @example
 * import { createSessionWard } from '@sessionward/client/headless'
 * const ward = createSessionWard({ pingUrl: '/session/ping', onWarn: ({ remaining }) => showBanner(remaining) })
 * ward.start()
 */
export const createSessionWard = (input: SessionWardOptions): SessionWard =>
  createWard(readOptions(input, briefly), null)

declare global {
  interface WindowEventMap {
    'sessionward:warn': CustomEvent<WarnDetail>
    'sessionward:active': CustomEvent<Record<string, never>>
    'sessionward:expire': CustomEvent<ExpireDetail>
    'sessionward:state': CustomEvent<StateDetail>
    'sessionward:pause': CustomEvent<PauseDetail>
    /** A sign-in from a device the user never used (issue 23): see README "New-device sign-ins". */
    'sessionward:new-device': CustomEvent<NewDeviceDetail>
  }
}
