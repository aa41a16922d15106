import { ACTIVITY_EVENTS } from './activity.ts'
import en from './locales/en.ts'
import type { DialogLocale, DialogTexts } from './locales/index.ts'

/** Why a session ended: a server reason (`idle`, `absolute`, `revoked`, …), `unauthenticated` or `logout`. */
export type ExpireReason = string

/** The state a ward is in. */
export type WardState = 'stopped' | 'active' | 'warning' | 'expired'

/** `sessionward:warn` detail and `onWarn` argument. */
export interface WarnDetail {
  /** Whole seconds the countdown shows: it ends 2 s before the session, unless the user stays. */
  remaining: number
}

/** `sessionward:expire` detail and `onExpire` argument. */
export interface ExpireDetail {
  reason: ExpireReason
}

/** `sessionward:pause` detail: whether anything now holds this tab paused. */
export interface PauseDetail {
  paused: boolean
}

/** `sessionward:state` detail and `onStateChange` argument. */
export interface StateDetail {
  state: WardState
  previous: WardState
}

/** Extra request headers, or a function that returns them (called before every request). */
export type HeadersOption = HeadersInit | (() => HeadersInit | Promise<HeadersInit>)

/** How tabs talk to each other; broadcast-channel picks the best one when omitted. */
export type ChannelType = 'native' | 'idb' | 'localstorage' | 'simulate'

/** Options of {@link createSessionWard}. Times are in seconds. */
export interface SessionWardOptions {
  /** URL of the server's ping route, e.g. `/session/ping`. Required. */
  pingUrl: string
  /** URL of the server's logout route; without it expiry sends no request. */
  logoutUrl?: string
  /**
   * Where every tab goes once the session has ended: a URL, whose `reason` query parameter is
   * set to the reason (`/login?reason=idle` becomes `/login?reason=admin`), or a function of
   * the reason that returns the URL.
   */
  redirectTo?: string | ((reason: ExpireReason) => string)
  /**
   * URL of the server's events route (Server-Sent Events); `false` turns the channel off.
   * Default: `pingUrl` with its last segment `ping` replaced by `events`.
   */
  eventsUrl?: string | false
  /** Seconds of inactivity before the warning (default 840). The server's value replaces it. */
  warnAfter?: number
  /** Seconds of inactivity before the session ends (default 900). The server's value replaces it. */
  expireAfter?: number
  /** Headers sent with every request, e.g. `() => ({ Authorization: `Bearer ${token}` })`. */
  headers?: HeadersOption
  /** `false` for headless mode: callbacks and DOM events only. Default `true`. */
  dialog?: boolean
  /**
   * The dialog's language: a BCP 47 tag (`de`, `pt-BR`, `zh-CN`; an unknown one gives English),
   * or a {@link DialogLocale} (`import de from '@sessionward/client/locales/de'`, or one of the
   * app's own). Default: the page's `<html lang>`.
   */
  locale?: string | DialogLocale
  /** Replacement texts for the dialog, over the locale's; `{time}` in `message` marks the countdown. */
  texts?: Partial<DialogTexts>
  /** Nonce for the `<style>` fallback in browsers without constructable stylesheets. */
  nonce?: string
  /** Name of the channel tabs share (one per app). Default `sessionward`. */
  channelName?: string
  /** Force a broadcast-channel method (`simulate` in tests). */
  channelType?: ChannelType
  /** The `fetch` to use; defaults to the global one. */
  fetch?: typeof fetch
  /** How to leave the page after expiry; defaults to `location.assign`. */
  navigate?: (url: string) => void
  /**
   * DOM events that count as activity, replacing the defaults (`mousemove`, `pointerdown`,
   * `keydown`, `wheel`, `touchstart`); trusted ones only, at most one per second.
   */
  activityEvents?: readonly string[]
  /** `true`: a playing `<video>` or `<audio>` holds the ward paused (see `pause()`). */
  media?: boolean
  /** `true`: one `console.debug` line per state change, with its cause. */
  debug?: boolean
  onWarn?: (detail: WarnDetail) => void
  onActive?: () => void
  onExpire?: (detail: ExpireDetail) => void
  onStateChange?: (detail: StateDetail) => void
}

/** Options after validation, times in milliseconds. */
export interface ResolvedOptions {
  pingUrl: string
  logoutUrl: string | null
  redirectTo: string | ((reason: ExpireReason) => string) | null
  eventsUrl: string | null
  warnAfter: number
  expireAfter: number
  headers: HeadersOption
  dialog: boolean
  locale: string | DialogLocale | null
  /** Only the texts the app set: the dialog puts them over its locale's. */
  texts: Partial<DialogTexts>
  nonce: string | null
  channelName: string
  channelType: ChannelType | null
  fetch: typeof fetch | null
  navigate: ((url: string) => void) | null
  activityEvents: readonly string[]
  media: boolean
  debug: boolean
  onWarn: ((detail: WarnDetail) => void) | null
  onActive: (() => void) | null
  onExpire: ((detail: ExpireDetail) => void) | null
  onStateChange: ((detail: StateDetail) => void) | null
}

const CHANNEL_TYPES: readonly string[] = ['native', 'idb', 'localstorage', 'simulate']
const KEYS: readonly string[] = [
  'pingUrl',
  'logoutUrl',
  'redirectTo',
  'eventsUrl',
  'warnAfter',
  'expireAfter',
  'headers',
  'dialog',
  'locale',
  'texts',
  'nonce',
  'channelName',
  'channelType',
  'fetch',
  'navigate',
  'activityEvents',
  'media',
  'debug',
  'onWarn',
  'onActive',
  'onExpire',
  'onStateChange',
]

const fail = (message: string): never => {
  throw new TypeError(`sessionward: ${message}`)
}

const describe = (value: unknown): string =>
  typeof value === 'string' || Array.isArray(value) ? JSON.stringify(value) : String(value)

/** A string option; `or` names what else the option accepts, for the error message. */
function text(
  record: Record<string, unknown>,
  key: string,
  required = false,
  or = '',
): string | null {
  const value = record[key]
  if (value === undefined && !required) return null
  if (typeof value !== 'string' || value.trim() === '') {
    return fail(`${key} must be a non-empty string${or}, got ${describe(value)}`)
  }
  return value
}

function seconds(record: Record<string, unknown>, key: string, fallback: number): number {
  const value = record[key] ?? fallback
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    return fail(`${key} must be a positive number of seconds, got ${describe(value)}`)
  }
  return value * 1000
}

function callback<T>(record: Record<string, unknown>, key: string): T | null {
  const value = record[key]
  if (value === undefined) return null
  if (typeof value !== 'function') return fail(`${key} must be a function, got ${describe(value)}`)
  return value as T
}

function flag(record: Record<string, unknown>, key: string, fallback: boolean): boolean {
  const value = record[key] ?? fallback
  if (typeof value !== 'boolean') fail(`${key} must be true or false, got ${describe(value)}`)
  return value as boolean
}

function activityEvents(value: unknown): readonly string[] {
  if (value === undefined) return ACTIVITY_EVENTS
  if (
    !Array.isArray(value) ||
    value.length === 0 ||
    !value.every((type) => typeof type === 'string' && type.trim() !== '')
  ) {
    fail(`activityEvents must be a non-empty array of strings, got ${describe(value)}`)
  }
  // A copy: the listeners are added and removed by this list, which the app may change later.
  return [...(value as string[])]
}

/** Texts the app set (a locale's, named `locale.texts`), checked by name. */
function texts(value: unknown, name = 'texts'): Partial<DialogTexts> {
  if (value === undefined) return {}
  if (typeof value !== 'object' || value === null) {
    return fail(`${name} must be an object, got ${describe(value)}`)
  }
  for (const [key, entry] of Object.entries(value)) {
    if (!Object.hasOwn(en.texts, key)) {
      fail(`unknown text "${key}"; known: ${Object.keys(en.texts).join(', ')}`)
    }
    if (typeof entry !== 'string') fail(`${name}.${key} must be a string, got ${describe(entry)}`)
  }
  return value
}

/** A tag (any string: an unknown one gives English) or a locale object with every text. */
function locale(value: unknown): string | DialogLocale | null {
  if (value === undefined || typeof value === 'string') return value ?? null
  const { tag, dir = 'ltr', texts: all } = Object(value)
  try {
    // Checked here, not when the warning opens: Intl throws on a tag that is not one.
    new Intl.Locale(tag)
    if (/^(ltr|rtl)$/.test(dir) && Object.keys(texts(all, 'locale.texts')).length > 3) {
      return value as DialogLocale
    }
  } catch {}
  return fail('locale must be a language tag or { tag, dir?, texts } with every text')
}

/**
 * The events route beside the ping route, or null when the ping URL does not end in `ping`.
 * @example
 * eventsUrlFor('/session/ping') // '/session/events'
 */
export function eventsUrlFor(pingUrl: string): string | null {
  const url = pingUrl.replace(/(^|\/)ping([?#]|$)/, '$1events$2')
  return url === pingUrl ? null : url
}

/**
 * The URL a tab goes to after the session ended, carrying the reason: the `redirectTo`
 * function's answer, or its URL with the `reason` query parameter set (replacing any).
 * @example
 * redirectUrl('/login?reason=idle#top', 'admin') // '/login?reason=admin#top'
 */
export function redirectUrl(
  to: string | ((reason: ExpireReason) => string),
  reason: string,
): string {
  if (typeof to === 'function') return to(reason)
  const [, path, query, hash = ''] = /^([^?#]*)\??([^#]*)(.*)$/.exec(to) as RegExpExecArray
  const params = new URLSearchParams(query)
  params.set('reason', reason)
  return `${path}?${params}${hash}`
}

/**
 * Validates options once, at construction, so a typo fails loudly instead of a session silently
 * never expiring.
 * @example
 * resolveOptions({ pingUrl: '/session/ping', warnAfter: 20, expireAfter: 30 }).expireAfter // 30000
 */
export function resolveOptions(options: SessionWardOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null) {
    return fail(`options must be an object with at least pingUrl, got ${describe(options)}`)
  }
  const record = options as unknown as Record<string, unknown>
  for (const key of Object.keys(record)) {
    if (!KEYS.includes(key)) fail(`unknown option "${key}"`)
  }
  const warnAfter = seconds(record, 'warnAfter', 840)
  const expireAfter = seconds(record, 'expireAfter', 900)
  if (warnAfter >= expireAfter) {
    fail(`warnAfter (${warnAfter / 1000}s) must be less than expireAfter (${expireAfter / 1000}s)`)
  }
  const headers = record.headers ?? {}
  if (typeof headers !== 'object' && typeof headers !== 'function') {
    fail(`headers must be an object or a function, got ${describe(headers)}`)
  }
  const channelType = text(record, 'channelType')
  if (channelType !== null && !CHANNEL_TYPES.includes(channelType)) {
    fail(`channelType must be one of ${CHANNEL_TYPES.join(', ')}, got ${describe(channelType)}`)
  }
  const pingUrl = text(record, 'pingUrl', true) as string
  return {
    pingUrl,
    logoutUrl: text(record, 'logoutUrl'),
    redirectTo:
      typeof record.redirectTo === 'function'
        ? (record.redirectTo as (reason: ExpireReason) => string)
        : text(record, 'redirectTo', false, ' or a function'),
    eventsUrl:
      record.eventsUrl === false
        ? null
        : (text(record, 'eventsUrl', false, ' or false') ?? eventsUrlFor(pingUrl)),
    warnAfter,
    expireAfter,
    headers: headers as HeadersOption,
    dialog: flag(record, 'dialog', true),
    locale: locale(record.locale),
    texts: texts(record.texts),
    nonce: text(record, 'nonce'),
    channelName: text(record, 'channelName') ?? 'sessionward',
    channelType: channelType as ChannelType | null,
    fetch: callback(record, 'fetch'),
    navigate: callback(record, 'navigate'),
    activityEvents: activityEvents(record.activityEvents),
    media: flag(record, 'media', false),
    debug: flag(record, 'debug', false),
    onWarn: callback(record, 'onWarn'),
    onActive: callback(record, 'onActive'),
    onExpire: callback(record, 'onExpire'),
    onStateChange: callback(record, 'onStateChange'),
  }
}
