import type { Context } from 'hono'
import { deleteCookie, setCookie } from 'hono/cookie'
import { DEVICE_KEPT } from './known-device.ts'
import type { CookieOptions, NodeBindings, ResolvedOptions } from './options.ts'
import { isDeviceIdShaped } from './tokens.ts'

// Stored user agents are capped: the binding needs the browser's identity, not 10 KB of header.
const MAX_USER_AGENT = 512

/**
 * The request's user agent, as sessions store and compare it (capped).
 *
 * @example
 * sessions.passing(tokenHash, now, userAgentOf(c))
 */
export function userAgentOf(c: Context): string {
  return (header(c, 'user-agent') ?? '').slice(0, MAX_USER_AGENT)
}

/**
 * A request header (`name` in lower case) as the Fetch API gives it, repeated fields joined
 * with ", " (Cookie's with "; "), read from the Node request's raw header list when
 * @hono/node-server passes one: the cache-hit path then never builds a Fetch `Headers` of the
 * whole request, which costs more than the rest of the ward's check (BENCHMARKS.md). Elsewhere,
 * through `c.req`.
 *
 * @example
 * header(c, 'authorization') // 'Bearer swt_…'
 */
export function header(c: Context, name: string): string | undefined {
  const raw = (c.env as NodeBindings | undefined)?.incoming?.rawHeaders
  if (!raw) return c.req.header(name)
  let value: string | undefined
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const field = raw[i] as string
    // Most clients send lower-case names (HTTP/2 must): compared as they are, no copy made.
    if (field !== name && (field.length !== name.length || field.toLowerCase() !== name)) continue
    const next = raw[i + 1] as string
    value = value === undefined ? next : `${value}${name === 'cookie' ? '; ' : ', '}${next}`
  }
  return value
}

/**
 * The value of the request's cookie `name`, as hono's `getCookie(c, name)` gives it, from the
 * header as `header` reads it: a cookie session's cache hit builds no Fetch `Headers` either.
 *
 * @example
 * cookieOf(c, '__Host-sessionward') // 'swt_…'
 */
function cookieOf(c: Context, name: string): string | undefined {
  const cookies = header(c, 'cookie')
  return cookies ? cookieValue(cookies, name) : undefined
}

// hono's rule for a cookie value it returns (utils/cookie.ts `validCookieValueRegEx`).
const COOKIE_VALUE = /^[ !#-:<-[\]-~]*$/

/**
 * The first valid value of cookie `name` in a Cookie header, exactly as hono's
 * `parse(cookies, name)[name]` gives it (pairs split at `;`, name and value trimmed of spaces and
 * tabs, one pair of quotes taken off, percent-escapes decoded), but walking the header in place:
 * hono splits every pair into new strings, which made a cookie hit cost ~1.3 µs more than a
 * Bearer one (BENCHMARKS.md). transport.test.ts checks the two agree on generated headers.
 *
 * @example
 * cookieValue('theme=dark; __Host-sessionward=swt_abc', '__Host-sessionward') // 'swt_abc'
 */
export function cookieValue(cookies: string, name: string): string | undefined {
  // The next '=' is looked for again only once passed: one walk of the header however many
  // pairs lack one (a search per pair to the header's end would be quadratic in its length).
  let equals = -1
  for (let start = 0; start < cookies.length; ) {
    if (equals < start) {
      equals = cookies.indexOf('=', start)
      if (equals === -1) return undefined
    }
    const semicolon = cookies.indexOf(';', start)
    const end = semicolon === -1 ? cookies.length : semicolon
    if (equals < end && isNameAt(cookies, start, equals, name)) {
      const from = skipBlanks(cookies, equals + 1, end)
      let value = cookies.slice(from, backOverBlanks(cookies, from, end))
      if (value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1)
      if (COOKIE_VALUE.test(value)) return decodeCookieValue(value)
    }
    start = end + 1
  }
  return undefined
}

const isBlank = (code: number) => code === 0x20 || code === 0x09

/** The first index in `text[from, to)` past its leading spaces and tabs. */
function skipBlanks(text: string, from: number, to: number): number {
  while (from < to && isBlank(text.charCodeAt(from))) from++
  return from
}

/** The end of `text[from, to)` before its trailing spaces and tabs. */
function backOverBlanks(text: string, from: number, to: number): number {
  while (to > from && isBlank(text.charCodeAt(to - 1))) to--
  return to
}

/** Whether `text[from, to)`, trimmed of spaces and tabs, is `name` (compared in place). */
function isNameAt(text: string, from: number, to: number, name: string): boolean {
  const start = skipBlanks(text, from, to)
  return backOverBlanks(text, start, to) - start === name.length && text.startsWith(name, start)
}

/**
 * A cookie value's percent-escapes decoded as hono decodes them (`tryDecodeURIComponent`, not
 * exported by every hono the peer range allows): a run that does not decode is kept as sent.
 */
function decodeCookieValue(value: string): string {
  if (!value.includes('%')) return value
  try {
    return decodeURIComponent(value)
  } catch {
    return value.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => {
      try {
        return decodeURIComponent(run)
      } catch {
        return run
      }
    })
  }
}

/**
 * Where a request's token came from: the `Bearer` or `Token` scheme of the Authorization
 * header, or the cookie. Cookie tokens need the CSRF origin check; JWTs come only as Bearer.
 */
export type TokenSource = 'bearer' | 'token' | 'cookie'

/** The result of reading a request's credentials. */
export type Credentials =
  | { kind: 'none' }
  | { kind: 'malformed' }
  | { kind: 'token'; token: string; source: TokenSource }

// Longer than any token or JWT this library issues; a larger header is rejected unread.
const MAX_AUTHORIZATION_LENGTH = 4096

/**
 * Reads `Authorization: Bearer|Token <token>` or the session cookie. A header wins over the
 * cookie; a header in any other shape is malformed, never silently ignored.
 *
 * @example
 * readCredentials(c, options) // { kind: 'token', token: 'swt_...', source: 'bearer' }
 */
export function readCredentials(c: Context, options: ResolvedOptions): Credentials {
  const authorization = header(c, 'authorization')
  if (authorization !== undefined) return authorizationCredentials(authorization)
  if (options.cookie) {
    const token = cookieOf(c, options.cookie.name)
    if (token !== undefined && token !== '') return { kind: 'token', token, source: 'cookie' }
  }
  return { kind: 'none' }
}

const WHITESPACE = /\s/

/**
 * `<scheme> +<token> *` with the scheme `Bearer` or `Token` in any case, read without a
 * regular expression's match array: this runs on every request, cache hits included.
 */
function authorizationCredentials(value: string): Credentials {
  if (value.length > MAX_AUTHORIZATION_LENGTH) return MALFORMED
  const space = value.indexOf(' ')
  if (space < 0) return MALFORMED
  // `Bearer` as written by nearly every client is recognised without a lower-case copy.
  const scheme = value.startsWith('Bearer ') ? 'bearer' : value.slice(0, space).toLowerCase()
  if (scheme !== 'bearer' && scheme !== 'token') return MALFORMED
  let start = space + 1
  while (value.charCodeAt(start) === SPACE) start++
  let end = value.length
  while (end > start && value.charCodeAt(end - 1) === SPACE) end--
  const token = value.slice(start, end)
  if (token === '' || WHITESPACE.test(token)) return MALFORMED
  return { kind: 'token', token, source: scheme === 'bearer' ? 'bearer' : 'token' }
}

const SPACE = 0x20
const MALFORMED: Credentials = Object.freeze({ kind: 'malformed' })

// Hosts browsers treat as secure contexts, where they accept a Secure cookie over http.
const LOOPBACK = /^(localhost|.+\.localhost|127(\.\d{1,3}){3}|\[::1\])$/

/**
 * The origin the browser sees the app at where it would drop a Secure cookie (plain http to a
 * host that is not loopback), else null: one of the `origin` option's, or, when it is not set,
 * the request URL's, which behind a TLS-terminating proxy is only what Node sees.
 */
function originDroppingSecureCookies(c: Context, options: ResolvedOptions): string | null {
  for (const candidate of options.origin ?? [c.req.url]) {
    // Parsed without throwing: a hint must never fail the login it is about.
    const url = URL.parse(candidate)
    if (url?.protocol === 'http:' && !LOOPBACK.test(url.hostname)) return url.origin
  }
  return null
}

const DROPPED =
  'browsers drop a Secure cookie set over http, so every sign-in seems to end at once. ' +
  'Fix: serve the app over HTTPS; ' +
  "for local HTTP testing, use cookie: { secure: false, name: 'sessionward' }."

// What the ward has warned about, per ward (by its options): one log line each, not one per login.
const warned = new WeakMap<ResolvedOptions, Set<string>>()

function warnOnce(options: ResolvedOptions, topic: string, message: string): void {
  const topics = warned.get(options) ?? new Set()
  warned.set(options, topics)
  if (topics.has(topic)) return
  topics.add(topic)
  options.logger.warn(message)
}

function warnIfDropped(c: Context, options: ResolvedOptions): void {
  const origin = originDroppingSecureCookies(c, options)
  if (origin === null) return
  warnOnce(
    options,
    'secure cookie over http',
    options.origin === null
      ? `sessionward: the session cookie is Secure but this request reached the app as plain http (${origin}). ` +
          `Behind a TLS-terminating proxy, name the app's public origin: createWard({ origin: '${origin.replace(/^http:/, 'https:')}' }), ` +
          'or every cookie ping, sign-out and revoke from the browser answers 403 origin_rejected. ' +
          `If the browser is on http too, ${DROPPED}`
      : `sessionward: the session cookie is Secure but the app's origin ${origin} is plain http: ${DROPPED}`,
  )
}

/**
 * Sets the session cookie: HttpOnly (no script can read it), SameSite=Lax (not sent on
 * cross-site POSTs), Secure and Path=/ (required by the `__Host-` prefix). A Secure cookie set
 * over plain http to a non-loopback host is logged once per ward, pointing to the `origin`
 * option when TLS ends at a proxy and to HTTPS when the browser will drop it.
 *
 * @example
 * setSessionCookie(c, options, token, 43200)
 */
export function setSessionCookie(
  c: Context,
  options: ResolvedOptions,
  token: string,
  maxAgeSeconds: number,
): void {
  if (!options.cookie) return
  if (options.cookie.secure) warnIfDropped(c, options)
  setCookie(c, options.cookie.name, token, {
    httpOnly: true,
    secure: options.cookie.secure,
    sameSite: 'Lax',
    path: '/',
    maxAge: Math.floor(maxAgeSeconds),
  })
}

/**
 * Tells the browser to drop the session cookie.
 *
 * @example
 * clearSessionCookie(c, options)
 */
export function clearSessionCookie(c: Context, options: ResolvedOptions): void {
  if (!options.cookie) return
  deleteCookie(c, options.cookie.name, { path: '/', secure: options.cookie.secure })
}

/** The device cookie's name: the session cookie's, so it keeps its `__Host-` prefix. */
function deviceCookieName(cookie: Required<CookieOptions>): string {
  return `${cookie.name}-device`
}

/**
 * The device id the request's device cookie carries, or null (cookies off, no cookie, or not
 * the shape of one the ward made).
 *
 * @example
 * const deviceId = readDeviceCookie(c, options) ?? generateSecret(DEVICE_PREFIX)
 */
export function readDeviceCookie(c: Context, options: ResolvedOptions): string | null {
  if (!options.cookie) return null
  const value = cookieOf(c, deviceCookieName(options.cookie))
  return value !== undefined && isDeviceIdShaped(value) ? value : null
}

/**
 * Sets (or renews) the long-lived device cookie: HttpOnly, SameSite=Lax, Path=/, Secure as the
 * session cookie is.
 *
 * @example
 * setDeviceCookie(c, options, deviceId)
 */
export function setDeviceCookie(c: Context, options: ResolvedOptions, deviceId: string): void {
  if (!options.cookie) return
  setCookie(c, deviceCookieName(options.cookie), deviceId, {
    httpOnly: true,
    secure: options.cookie.secure,
    sameSite: 'Lax',
    path: '/',
    // Renewed by each sign-in: a device is known as long as its cookie lives.
    maxAge: DEVICE_KEPT,
  })
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])

/**
 * CSRF check for cookie-authenticated requests: a state-changing request must come from the
 * app's own origin (the `origin` option, else the request URL's) or a trusted one. Browsers
 * always send Origin on such requests; when it is missing, Sec-Fetch-Site must say same-origin.
 * Hono's `csrf` only looks at form content types, so this stricter check covers every
 * state-changing request.
 *
 * @example
 * originAllowed(c, options) // false for a POST from https://evil.example
 */
export function originAllowed(c: Context, options: ResolvedOptions): boolean {
  if (SAFE_METHODS.has(c.req.method)) return true
  const origin = c.req.header('origin')
  if (origin === undefined || origin === 'null') return sameOriginByFetchMetadata(c)
  if (isOwnOrTrusted(c, options, origin)) return true
  if (options.origin === null) warnIfBehindTlsProxy(c, options, origin)
  return false
}

// `Origin: https://host` on a request Node got as `http://host` is what a TLS-terminating proxy
// looks like; no cross-site page can make a browser send the app's own host as its Origin. The
// host is the URL's, or `X-Forwarded-Host` where the proxy rewrote Host: trusting it unchecked
// is harmless, since it only decides whether a hint is logged.
function warnIfBehindTlsProxy(c: Context, options: ResolvedOptions, origin: string): void {
  const seen = URL.parse(c.req.url)
  const sent = URL.parse(origin)
  if (seen?.protocol !== 'http:' || sent?.protocol !== 'https:') return
  const forwardedHost = c.req.header('x-forwarded-host')?.split(',')[0]?.trim()
  const hosts = [seen.hostname, forwardedHost && URL.parse(`http://${forwardedHost}`)?.hostname]
  if (!hosts.includes(sent.hostname)) return
  warnOnce(
    options,
    'behind a TLS proxy',
    `sessionward: refused a cookie request from Origin ${sent.origin} that reached the app as ${seen.origin} (403 origin_rejected). ` +
      `Behind a TLS-terminating proxy, name the app's public origin: createWard({ origin: '${sent.origin}' }).`,
  )
}

// A form posted under `Referrer-Policy: no-referrer` sends `Origin: null`, and an opaque origin
// (a sandboxed frame) does too: only the browser-set Sec-Fetch-Site can tell them apart.
function sameOriginByFetchMetadata(c: Context): boolean {
  return c.req.header('sec-fetch-site') === 'same-origin'
}

/**
 * Login CSRF check for the request that sets the cookie (`createSession`): `originAllowed`, and
 * besides, a request with neither Origin nor `Sec-Fetch-Site` (or `none`: typed by the user) may
 * pass — no browser sends a cross-site POST without Origin, so it is an API client with no
 * victim's cookie jar to fill. GET logins (OAuth callbacks, magic links) arrive cross-site by
 * design and carry their own proof (state, a one-time code).
 *
 * @example
 * loginOriginAllowed(c, options) // false for a form posted from https://evil.example
 */
export function loginOriginAllowed(c: Context, options: ResolvedOptions): boolean {
  if (originAllowed(c, options)) return true
  if (c.req.header('origin') !== undefined) return false
  const site = c.req.header('sec-fetch-site')
  return site === undefined || site === 'none'
}

function isOwnOrTrusted(c: Context, options: ResolvedOptions, origin: string): boolean {
  const own = options.origin ?? [new URL(c.req.url).origin]
  return own.includes(origin) || options.trustedOrigins.includes(origin)
}
