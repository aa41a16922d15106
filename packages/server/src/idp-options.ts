import { assertKnownKeys, describe, fail, isRecord } from './option-checks.ts'
import type { IdpLink } from './session.ts'

// The `identityProviders` option and the `idp` link of `createSession`: their types and
// validation, apart from the receivers, so options can resolve them without the JOSE machinery.

/**
 * A Shared Signals subject (RFC 9493) the ward cannot map by itself: `email`, `phone_number`,
 * `account`, `complex`, … (`iss_sub` and `opaque` are mapped to linked sessions).
 */
export type SecurityEventSubject = Record<string, unknown> & { format: string }

/** One identity provider whose logout tokens and security events the ward takes. */
export interface IdentityProviderOptions {
  /** The provider's issuer, exactly as its tokens' `iss` (`https://idp.example/realms/app`). */
  issuer: string
  /** The app's client id at that provider: the `aud` its logout tokens carry. */
  audience: string
  /** Where its signing keys are; default: `jwks_uri` of `<issuer>/.well-known/openid-configuration`. */
  jwksUri?: string
  /**
   * Shared Signals subjects in other formats than `iss_sub` and `opaque` (an `email`): the app's
   * user id whose sessions end, or null when the subject is no user of the app.
   */
  resolveSubject?: (subject: SecurityEventSubject) => string | null | Promise<string | null>
}

/** A provider after validation. */
export interface ResolvedIdentityProvider {
  issuer: string
  audience: string
  jwksUri: string | null
  resolveSubject: IdentityProviderOptions['resolveSubject'] | null
}

/** What `ward.createSession(c, userId, options)` takes. */
export interface CreateSessionOptions {
  /**
   * The identity provider's session this one comes from (from its ID token: `iss`, `sub`,
   * `sid`): its back-channel logouts and Shared Signals events end this session.
   */
  idp?: { issuer: string; sub: string; sid?: string }
  /**
   * The device's own id, for apps without the cookie (header tokens): a string of 1 to 255
   * characters the app keeps on the device (only its hash is stored). With cookies on, it
   * replaces the device cookie.
   */
  deviceId?: string
}

const PROVIDER_KEYS = ['issuer', 'audience', 'jwksUri', 'resolveSubject']
// What the session columns hold, as for user ids.
const MAX_CLAIM_LENGTH = 255

function httpUrl(value: unknown, name: string): string {
  const url = typeof value === 'string' ? URL.parse(value) : null
  if (!url || !/^https?:$/.test(url.protocol)) {
    fail(`${name} must be an http(s) URL, got ${describe(value)}`)
  }
  return value as string
}

function text(value: unknown, name: string): string {
  if (typeof value !== 'string' || value === '' || value.length > MAX_CLAIM_LENGTH) {
    fail(`${name} must be a string of 1 to ${MAX_CLAIM_LENGTH} characters, got ${describe(value)}`)
  }
  return value
}

function resolveProvider(value: unknown, name: string): ResolvedIdentityProvider {
  if (!isRecord(value)) {
    fail(`${name} must be an object { issuer, audience, jwksUri? }, got ${describe(value)}`)
  }
  assertKnownKeys(value, PROVIDER_KEYS, name)
  const { resolveSubject } = value
  if (resolveSubject !== undefined && typeof resolveSubject !== 'function') {
    fail(
      `${name}.resolveSubject must be a function (subject) => userId | null, got ${describe(resolveSubject)}`,
    )
  }
  return {
    issuer: httpUrl(value.issuer, `${name}.issuer`),
    audience: text(value.audience, `${name}.audience`),
    jwksUri: value.jwksUri === undefined ? null : httpUrl(value.jwksUri, `${name}.jwksUri`),
    resolveSubject: (resolveSubject as ResolvedIdentityProvider['resolveSubject']) ?? null,
  }
}

/**
 * Validates `identityProviders` (a list of `{ issuer, audience, jwksUri? }`, one per issuer).
 *
 * @example
 * resolveIdentityProviders([{ issuer: 'https://idp.example', audience: 'my-app' }])
 */
export function resolveIdentityProviders(value: unknown): ResolvedIdentityProvider[] {
  if (value === undefined) return []
  if (!Array.isArray(value)) {
    fail(
      `identityProviders must be a list of { issuer, audience, jwksUri? }, got ${describe(value)}`,
    )
  }
  const providers = value.map((entry, i) => resolveProvider(entry, `identityProviders[${i}]`))
  providers.forEach((provider, i) => {
    if (providers.findIndex((other) => other.issuer === provider.issuer) !== i) {
      fail(`identityProviders[${i}].issuer ${JSON.stringify(provider.issuer)} is listed twice`)
    }
  })
  return providers
}

/**
 * `createSession`'s `idp` option as the link stored with the session, or null without one; a
 * TypeError when it is malformed or names an issuer the ward was not configured with (no
 * logout from it could ever reach the session).
 *
 * @example
 * idpLink({ issuer, sub: claims.sub, sid: claims.sid }, providers)
 */
export function idpLink(
  idp: unknown,
  providers: readonly ResolvedIdentityProvider[],
): IdpLink | null {
  if (idp === undefined) return null
  const valid =
    isRecord(idp) &&
    typeof idp.issuer === 'string' &&
    Object.keys(idp).every((key) => ['issuer', 'sub', 'sid'].includes(key)) &&
    isClaim(idp.sub) &&
    (idp.sid === undefined || isClaim(idp.sid))
  if (!valid || typeof idp.issuer !== 'string' || !isClaim(idp.sub)) {
    throw new TypeError(
      `sessionward: createSession idp must be { issuer, sub, sid? } with sub and sid strings of 1 to ${MAX_CLAIM_LENGTH} characters`,
    )
  }
  if (!providers.some((provider) => provider.issuer === idp.issuer)) {
    throw new TypeError(
      `sessionward: createSession idp.issuer ${JSON.stringify(idp.issuer)} is not one of the identityProviders of createWard`,
    )
  }
  return { issuer: idp.issuer, sub: idp.sub, sid: isClaim(idp.sid) ? idp.sid : null }
}

function isClaim(value: unknown): value is string {
  return typeof value === 'string' && value !== '' && value.length <= MAX_CLAIM_LENGTH
}
