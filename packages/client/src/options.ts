import { ACTIVITY_EVENTS } from './activity.ts'
import { type DialogLocale, type DialogTexts, TEXT_KEYS } from './locales/index.ts'

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
  /**
   * `true`: a locked screen ends the session in every tab (reason `screen_lock`), where the
   * browser has the Idle Detection API (Chromium, after `ward.requestScreenLockPermission()` in a
   * click). Elsewhere it does nothing (and says so once with `debug`).
   */
  endOnScreenLock?: boolean
  /** `true`: one `console.debug` line per state change, with its cause. */
  debug?: boolean
  onWarn?: (detail: WarnDetail) => void
  onActive?: () => void
  onExpire?: (detail: ExpireDetail) => void
  onStateChange?: (detail: StateDetail) => void
}

/**
 * Options after validation, times in milliseconds; an option the app left out is undefined
 * unless it has a default.
 */
export interface ResolvedOptions extends Omit<SessionWardOptions, 'eventsUrl'> {
  /** Null when the channel is off (`false`, or no events route beside the ping route). */
  eventsUrl: string | null
  warnAfter: number
  expireAfter: number
  headers: HeadersOption
  dialog: boolean
  /** Only the texts the app set: the dialog puts them over its locale's. */
  texts: Partial<DialogTexts>
  channelName: string
  activityEvents: readonly string[]
}

const CHANNEL_TYPES: readonly string[] = ['native', 'idb', 'localstorage', 'simulate']

/** Throws the package's TypeError: `sessionward: <message>`. */
export const fail = (message: string): never => {
  throw new TypeError(`sessionward: ${message}`)
}

const describe = (value: unknown): string =>
  typeof value === 'string' || Array.isArray(value) ? JSON.stringify(value) : String(value)

const isText = (value: unknown): boolean => typeof value === 'string' && !!value.trim()
const isFunction = (value: unknown): boolean => typeof value === 'function'
const isFlag = (value: unknown): boolean => typeof value === 'boolean'
/**
 * A finite number (`Number.isFinite` is false for any other type). The tabs' messages and the
 * server's answers are checked with it too: one copy in the bundle.
 */
export const isTime = Number.isFinite as (value: unknown) => value is number
const isSeconds = (value: unknown): boolean => isTime(value) && value > 0
/**
 * An object with named fields: not null, not an array (the tabs' messages and the server's
 * answers are checked with it too: one copy in the bundle).
 */
export const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

/** A text the app set that is not one: an unknown name, or no string. */
const wrongText = (value: object): [key: string, entry: unknown] | undefined =>
  Object.entries(value).find(
    ([key, entry]) => !TEXT_KEYS.includes(key as keyof DialogTexts) || typeof entry !== 'string',
  )

/** Texts the app set, checked by name. */
const isTexts = (value: unknown): boolean => isObject(value) && !wrongText(value)

/** A tag (any string: an unknown one gives English) or a locale object with every text. */
function isLocale(value: unknown): boolean {
  const { tag, dir = 'ltr', texts } = Object(value)
  try {
    return (
      typeof value === 'string' ||
      // Checked here, not when the warning opens: Intl throws on a tag that is not one.
      (!!new Intl.Locale(tag) &&
        ['ltr', 'rtl'].includes(dir) &&
        isTexts(texts) &&
        Object.keys(texts).length > 3)
    )
  } catch {
    return false
  }
}

/**
 * Every option's check. A key not here is a typo; `pingUrl` is checked even when missing. The
 * wording of each error is {@link explainOption}'s, which only the full entry carries.
 */
const CHECKS: Record<string, (value: unknown) => boolean> = {
  pingUrl: isText,
  logoutUrl: isText,
  redirectTo: (value) => isText(value) || isFunction(value),
  eventsUrl: (value) => isText(value) || value === false,
  warnAfter: isSeconds,
  expireAfter: isSeconds,
  headers: (value) => typeof value === 'object' || isFunction(value),
  dialog: isFlag,
  locale: isLocale,
  texts: isTexts,
  nonce: isText,
  channelName: isText,
  channelType: (value) => CHANNEL_TYPES.includes(value as string),
  fetch: isFunction,
  navigate: isFunction,
  activityEvents: (value) => Array.isArray(value) && value.length > 0 && value.every(isText),
  media: isFlag,
  endOnScreenLock: isFlag,
  debug: isFlag,
  onWarn: isFunction,
  onActive: isFunction,
  onExpire: isFunction,
  onStateChange: isFunction,
}

/** What a bad option's error says of it (after `sessionward: `). */
export type Explain = (key: string, value: unknown) => string

/**
 * The headless entry's error for a bad option: which option, and the value it got. (What the
 * option must be is in its type, `SessionWardOptions`; the full entry says it too.)
 * @example
 * briefly('warnAfter', '20') // 'warnAfter is not valid, got "20"'
 */
export const briefly: Explain = (key, value) => `${key} is not valid, got ${describe(value)}`

/**
 * What an option must be, in the full entry's errors: by its check, or by its name. Built when
 * asked for, so a bundle without {@link explainOption} carries none of it.
 */
const wording = (): Map<unknown, string> =>
  new Map<unknown, string>([
    [isText, 'a non-empty string'],
    [isFunction, 'a function'],
    [isFlag, 'true or false'],
    [isSeconds, 'a positive number of seconds'],
    ['options', 'an object with at least pingUrl'],
    ['redirectTo', 'a non-empty string or a function'],
    ['eventsUrl', 'a non-empty string or false'],
    ['headers', 'an object or a function'],
    ['texts', 'an object'],
    ['channelType', `one of ${CHANNEL_TYPES.join(', ')}`],
    ['activityEvents', 'a non-empty array of strings'],
  ])

/**
 * The full entry's error for a bad option: what it must be, and the value it got.
 * @example
 * explainOption('warnAfter', '20') // 'warnAfter must be a positive number of seconds, got "20"'
 */
export const explainOption: Explain = (key, value) => {
  // The locale's wording is the whole message: it names the shapes a locale may take.
  if (key === 'locale')
    return 'locale must be a language tag or { tag, dir?, texts } with every text'
  const wrong = key === 'texts' && isObject(value) ? wrongText(value) : undefined
  if (wrong === undefined) {
    const words = wording()
    return `${key} must be ${words.get(key) ?? words.get(CHECKS[key])}, got ${describe(value)}`
  }
  const [name, entry] = wrong
  return TEXT_KEYS.includes(name as keyof DialogTexts)
    ? `texts.${name} must be a string, got ${describe(entry)}`
    : `unknown text "${name}"; known: ${TEXT_KEYS.join(', ')}`
}

/**
 * The events route beside the ping route, or null when the ping URL does not end in `ping`.
 * @example
 * eventsUrlFor('/session/ping') // '/session/events'
 */
export function eventsUrlFor(pingUrl: string): string | null {
  const url = pingUrl.replace(/(^|\/)ping(?=[?#]|$)/, '$1events')
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
  // The path and its query; the hash after them stays as it is.
  return to.replace(/^([^?#]*)\??([^#]*)/, (_match, path: string, query: string) => {
    const params = new URLSearchParams(query)
    params.set('reason', reason)
    return `${path}?${params}`
  })
}

/**
 * Validates options once, at construction, so a typo fails loudly instead of a session silently
 * never expiring; `explain` words the error for a bad option (see {@link briefly}).
 * @example
 * readOptions({ pingUrl: '/session/ping', warnAfter: 20, expireAfter: 30 }, briefly).expireAfter // 30000
 */
export function readOptions(options: SessionWardOptions, explain: Explain): ResolvedOptions {
  if (!isObject(options)) return fail(explain('options', options))
  const record = options as unknown as Record<string, unknown>
  for (const key of Object.keys(record)) {
    if (!Object.hasOwn(CHECKS, key)) fail(`unknown option "${key}"`)
  }
  for (const [key, check] of Object.entries(CHECKS)) {
    const value = record[key]
    if ((value !== undefined || key === 'pingUrl') && !check(value)) fail(explain(key, value))
  }
  const { warnAfter = 840, expireAfter = 900, eventsUrl } = options
  if (warnAfter >= expireAfter) {
    fail(`warnAfter (${warnAfter}s) must be less than expireAfter (${expireAfter}s)`)
  }
  return {
    ...options,
    eventsUrl: eventsUrl === false ? null : (eventsUrl ?? eventsUrlFor(options.pingUrl)),
    warnAfter: warnAfter * 1000,
    expireAfter: expireAfter * 1000,
    headers: options.headers ?? {},
    dialog: options.dialog ?? true,
    texts: { ...options.texts },
    channelName: options.channelName ?? 'sessionward',
    // A copy: the listeners are added and removed by this list, which the app may change later.
    activityEvents: [...(options.activityEvents ?? ACTIVITY_EVENTS)],
  }
}

/**
 * {@link readOptions} with the full entry's wording: each error says what the option must be.
 * @example
 * resolveOptions({ pingUrl: '/session/ping', warnAfter: 20, expireAfter: 30 }).expireAfter // 30000
 */
export const resolveOptions = (options: SessionWardOptions): ResolvedOptions =>
  readOptions(options, explainOption)
