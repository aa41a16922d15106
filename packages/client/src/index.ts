/**
 * @sessionward/client: logs inactive users out safely, across every open tab.
 * Importing this module touches no DOM; `ward.start()` does.
 */
import type { ExpireDetail, PauseDetail, StateDetail, WarnDetail } from './options.ts'

export { DEFAULT_TEXTS, type DialogLocale, type DialogTexts } from './dialog.ts'
export { LOCALES, type LocaleTag, matchLocale } from './locales/index.ts'
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
export { createSessionWard, type SessionWard } from './ward.ts'

declare global {
  interface WindowEventMap {
    'sessionward:warn': CustomEvent<WarnDetail>
    'sessionward:active': CustomEvent<Record<string, never>>
    'sessionward:expire': CustomEvent<ExpireDetail>
    'sessionward:state': CustomEvent<StateDetail>
    'sessionward:pause': CustomEvent<PauseDetail>
  }
}
