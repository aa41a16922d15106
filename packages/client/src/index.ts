/**
 * @sessionward/client: logs inactive users out safely, across every open tab. The headless
 * entry (`@sessionward/client/headless`) plus the default warning dialog and its locales.
 * Importing this module touches no DOM; `ward.start()` does.
 */
export { DEFAULT_TEXTS, type DialogLocale, type DialogTexts } from './dialog.ts'
export type {
  ChannelType,
  ExpireDetail,
  ExpireReason,
  HeadersOption,
  NewDeviceDetail,
  PauseDetail,
  SessionWardOptions,
  StateDetail,
  WardState,
  WarnDetail,
} from './headless.ts'
export { LOCALES, type LocaleTag, matchLocale } from './locales/index.ts'
export { createSessionWard, type SessionWard } from './ward.ts'
