import { decodeJwt, decodeProtectedHeader } from 'jose'
import type { IdpSessions } from './session.ts'

// The rules an identity provider's message must pass: OpenID Connect Back-Channel Logout 1.0
// §2.6 (with its errata) for logout tokens, RFC 8417 and RFC 8935 for Security Event Tokens.
// Pure: no I/O, no clock (the caller gives `now`), no HTTP. The signature itself is checked by
// the shell (identity-providers.ts) between `readToken` and the claim checks, with the keys of
// the issuer `readToken` found.

/** The event a logout token carries (Back-Channel Logout 1.0 §2.4). */
export const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout'
/** CAEP: one session (or all of a subject's) was revoked at the provider. */
export const CAEP_SESSION_REVOKED =
  'https://schemas.openid.net/secevent/caep/event-type/session-revoked'
/** RISC: all of the subject's sessions were revoked. */
export const RISC_SESSIONS_REVOKED =
  'https://schemas.openid.net/secevent/risc/event-type/sessions-revoked'
/** RISC: the subject's account was disabled. */
export const RISC_ACCOUNT_DISABLED =
  'https://schemas.openid.net/secevent/risc/event-type/account-disabled'
const ENDING_EVENTS = [CAEP_SESSION_REVOKED, RISC_SESSIONS_REVOKED, RISC_ACCOUNT_DISABLED]

/**
 * The signature algorithms accepted: asymmetric only. `none` proves nothing, and an HS*
 * token would be "signed" with the provider's public key, which anyone has.
 */
export const ACCEPTED_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
]

/** Seconds the provider's clock may be ahead of ours (`iat`) or behind (`exp`). */
export const CLOCK_SKEW = 60
/**
 * Seconds a Security Event Token is taken after its `iat` (SETs carry no `exp`): its `jti` is
 * kept this long, so an older one is refused rather than risk a replay nobody remembers.
 */
export const SET_MAX_AGE = 86_400

/** What was sent: a logout token (`/backchannel-logout`) or a Security Event Token (`/ssf`). */
export type TokenKind = 'logout' | 'event'

/** RFC 8935 §2.3's error codes; the logout route answers every refusal `invalid_request`. */
export type RefusalCode = 'invalid_request' | 'invalid_key' | 'invalid_issuer' | 'invalid_audience'

/** Why a token is refused, precisely enough for the provider's operator to fix it. */
export interface Refusal {
  refused: RefusalCode
  message: string
}

/** A token's parts before its signature is checked. */
export interface ReadToken {
  issuer: string
  claims: Record<string, unknown>
}

/** A valid logout token: whose sessions end, and its `jti` with when it may be forgotten. */
export interface LogoutOrder {
  sessions: IdpSessions
  jti: string
  /** Seconds since the epoch: the token's `exp`. */
  keepUntil: number
}

/** One event of a Security Event Token that ends sessions, with the subject it names. */
export interface EndingEvent {
  type: string
  subject: Record<string, unknown>
}

/** A valid Security Event Token: its ending events, and its `jti` with when it may be forgotten. */
export interface SecurityEvents {
  events: EndingEvent[]
  jti: string
  /** Seconds since the epoch: `iat` plus SET_MAX_AGE (or its `exp`, when later). */
  keepUntil: number
}

const refuse = (message: string, refused: RefusalCode = 'invalid_request'): Refusal => ({
  refused,
  message,
})

/** Whether a result is a refusal. */
export function isRefusal(value: object): value is Refusal {
  return 'refused' in value
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function isText(value: unknown): value is string {
  return typeof value === 'string' && value !== ''
}

// `typ` values each route takes (compared without case, "application/" optional): explicitly
// typed tokens of the other kind are refused; untyped ones ("JWT", or none) pass, as most
// providers send them (Keycloak's logout tokens say "JWT").
const TYPES: Record<TokenKind, string[]> = {
  logout: ['logout+jwt', 'jwt'],
  event: ['secevent+jwt', 'jwt'],
}

/**
 * The first step: the token's form and header, and its issuer, before any key is fetched.
 *
 * @example
 * const read = readToken(form.get('logout_token'), 'logout')
 * if (isRefusal(read)) return answer400(read.message)
 */
export function readToken(token: string, kind: TokenKind): ReadToken | Refusal {
  const parts = token.split('.')
  if (parts.length === 5) {
    return refuse('encrypted tokens (JWE) are not taken; the provider must send a signed JWT')
  }
  if (parts.length !== 3 || parts.some((part) => !/^[A-Za-z0-9_-]*$/.test(part))) {
    return refuse('the token is not a JWT (three base64url parts separated by dots)')
  }
  let header: ReturnType<typeof decodeProtectedHeader>
  let claims: Record<string, unknown>
  try {
    header = decodeProtectedHeader(token)
  } catch {
    return refuse('the JWT header is not base64url-encoded JSON')
  }
  const { alg, typ } = header
  if (alg === undefined || alg === 'none') {
    return refuse('the token is not signed (alg "none"); a signed JWT is required', 'invalid_key')
  }
  if (!ACCEPTED_ALGORITHMS.includes(alg)) {
    return refuse(
      `alg ${JSON.stringify(alg)} is not taken: only asymmetric signatures (${ACCEPTED_ALGORITHMS.join(', ')})`,
      'invalid_key',
    )
  }
  const type = typeof typ === 'string' ? typ.toLowerCase().replace(/^application\//, '') : typ
  if (type !== undefined && !TYPES[kind].includes(type as string)) {
    return refuse(
      `typ ${JSON.stringify(typ)} is not a ${kind === 'logout' ? 'logout token (logout+jwt)' : 'Security Event Token (secevent+jwt)'}`,
    )
  }
  try {
    claims = decodeJwt(token)
  } catch {
    return refuse('the JWT payload is not base64url-encoded JSON object')
  }
  if (!isText(claims.iss)) return refuse('the iss claim is missing', 'invalid_issuer')
  return { issuer: claims.iss, claims }
}

/** `aud` (a string or a list of strings) holds `audience`. */
function hasAudience(aud: unknown, audience: string): boolean {
  return aud === audience || (Array.isArray(aud) && aud.includes(audience))
}

/** The time claims every token shares: `iat` required, not ahead; `exp` (when set) not passed. */
function checkTimes(
  claims: Record<string, unknown>,
  now: number,
  expRequired: boolean,
): Refusal | null {
  const { iat, exp } = claims
  if (typeof iat !== 'number' || !Number.isFinite(iat)) {
    return refuse('the iat claim is missing or not a number')
  }
  if (iat > now + CLOCK_SKEW) return refuse('the iat claim is in the future')
  if (exp === undefined && !expRequired) return null
  if (typeof exp !== 'number' || !Number.isFinite(exp)) {
    return refuse('the exp claim is missing or not a number')
  }
  if (exp + CLOCK_SKEW <= now) return refuse('the token has expired (exp has passed)')
  return null
}

/**
 * Back-Channel Logout 1.0 §2.6, steps 3 to 7, on a token whose signature checked out with its
 * issuer's keys: `aud` holds the app's client id, `iat` and `exp` are in time, `sub` or `sid`
 * is present, the logout event is there, no `nonce`, and a `jti` to remember.
 *
 * @example
 * const order = checkLogoutClaims(read, provider.audience, Date.now() / 1000)
 */
export function checkLogoutClaims(
  read: ReadToken,
  audience: string,
  now: number,
): LogoutOrder | Refusal {
  const { claims, issuer } = read
  if (!hasAudience(claims.aud, audience)) {
    return refuse(`the aud claim does not contain the client id ${JSON.stringify(audience)}`)
  }
  const late = checkTimes(claims, now, true)
  if (late) return late
  const { sub, sid, events, jti } = claims
  if (sub === undefined && sid === undefined) {
    return refuse('the token has neither a sub nor a sid claim')
  }
  if (sub !== undefined && !isText(sub)) return refuse('the sub claim is not a string')
  if (sid !== undefined && !isText(sid)) return refuse('the sid claim is not a string')
  if (!isObject(events) || !isObject(events[BACKCHANNEL_LOGOUT_EVENT])) {
    return refuse(`the events claim does not hold ${BACKCHANNEL_LOGOUT_EVENT} as a JSON object`)
  }
  // An ID token (which has a nonce) must never pass for a logout token.
  if ('nonce' in claims) return refuse('a logout token must not have a nonce claim')
  if (!isText(jti)) return refuse('the jti claim is missing')
  const sessions: IdpSessions = { issuer }
  if (sub !== undefined) sessions.sub = sub
  if (sid !== undefined) sessions.sid = sid
  return { sessions, jti, keepUntil: claims.exp as number }
}

/**
 * A Security Event Token (RFC 8417) on a route of RFC 8935 push delivery, its signature checked
 * out: `aud` holds the app's audience, `iat` in time and at most SET_MAX_AGE old, a `jti`, and
 * an `events` object. The events that end sessions (CAEP session-revoked, RISC sessions-revoked
 * and account-disabled) come with their subject (the event's `subject`, else the token's
 * `sub_id`); other events are taken and ignored, as RFC 8935 lets a receiver do.
 *
 * @example
 * const set = checkSecurityEvents(read, provider.audience, Date.now() / 1000)
 */
export function checkSecurityEvents(
  read: ReadToken,
  audience: string,
  now: number,
): SecurityEvents | Refusal {
  const { claims } = read
  if (!hasAudience(claims.aud, audience)) {
    return refuse(`the aud claim does not contain ${JSON.stringify(audience)}`, 'invalid_audience')
  }
  const late = checkTimes(claims, now, false)
  if (late) return late
  const iat = claims.iat as number
  if (iat + SET_MAX_AGE <= now) {
    return refuse(`the token was issued more than ${SET_MAX_AGE} seconds ago`)
  }
  const { jti, events, sub_id: subId } = claims
  if (!isText(jti)) return refuse('the jti claim is missing')
  if (!isObject(events) || Object.keys(events).length === 0) {
    return refuse('the events claim is missing or holds no event')
  }
  const ending: EndingEvent[] = []
  for (const [type, event] of Object.entries(events)) {
    if (!isObject(event)) return refuse(`the event ${type} is not a JSON object`)
    if (!ENDING_EVENTS.includes(type)) continue
    const subject = event.subject ?? subId
    if (!isObject(subject) || !isText(subject.format)) {
      return refuse(`the event ${type} names no subject (subject or sub_id with a format)`)
    }
    ending.push({ type, subject })
  }
  const exp = typeof claims.exp === 'number' ? claims.exp : 0
  return { events: ending, jti, keepUntil: Math.max(iat + SET_MAX_AGE, exp) }
}

/**
 * The linked sessions a subject (RFC 9493) names at `issuer`: `iss_sub` of this issuer (every
 * session of that subject), `opaque` (the provider's session id), or a `complex` subject of a
 * `user` and a `session` in those formats. Null for any other subject: the app's
 * `resolveSubject` may know it.
 *
 * @example
 * subjectSessions({ format: 'iss_sub', iss: issuer, sub: '248289761001' }, issuer)
 */
export function subjectSessions(
  subject: Record<string, unknown>,
  issuer: string,
): IdpSessions | null {
  if (subject.format === 'iss_sub') {
    return subject.iss === issuer && isText(subject.sub) ? { issuer, sub: subject.sub } : null
  }
  if (subject.format === 'opaque') return isText(subject.id) ? { issuer, sid: subject.id } : null
  if (subject.format !== 'complex') return null
  const { user, session } = subject
  const byUser = isObject(user) ? subjectSessions(user, issuer) : null
  const bySession = isObject(session) ? subjectSessions(session, issuer) : null
  if ((user !== undefined && !byUser?.sub) || (session !== undefined && !bySession?.sid)) {
    return null
  }
  if (!byUser && !bySession) return null
  return { ...byUser, ...bySession, issuer }
}
