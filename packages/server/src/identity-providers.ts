import { compactVerify, createRemoteJWKSet, errors, type JWTVerifyGetKey } from 'jose'
import type { Endings } from './ending.ts'
import type { ResolvedIdentityProvider } from './idp-options.ts'
import {
  ACCEPTED_ALGORITHMS,
  checkLogoutClaims,
  checkSecurityEvents,
  isRefusal,
  type ReadToken,
  type Refusal,
  readToken,
  subjectSessions,
  type TokenKind,
} from './idp-tokens.ts'
import type { ResolvedOptions } from './options.ts'
import type { SessionRecord } from './session.ts'
import { type EndTarget, landedValue, type Store } from './store.ts'
import type { EndReason } from './vocabulary.ts'

// The I/O shell of the identity-provider receivers: the providers' keys (discovery, JWKS), the
// replay record (a `jti` kept in the store until it expires, so every instance refuses a
// replay), and the end through the one end path. The rules are in idp-tokens.ts; the HTTP
// answers at the edge (idp-routes.ts).

/**
 * Milliseconds a key fetch (discovery document or JWKS) may take: past it the token is refused
 * (400), the request never hangs on a provider that does not answer.
 */
export const KEY_FETCH_TIMEOUT = 3000
/** Milliseconds between two fetches of a provider's keys for a `kid` it does not know. */
export const KEY_REFETCH_COOLDOWN = 60_000

/** What taking a token came to: how many sessions ended, or why it was refused. */
export type Received = { ended: number } | Refusal

/** What the receivers need of the ward. */
export interface ReceiverParts {
  options: Pick<ResolvedOptions, 'identityProviders' | 'logger'>
  store: Store
  endings: Endings
}

/** A provider's key set, or the failure to find it (kept for the cooldown, then retried). */
type KeySource = { keys: JWTVerifyGetKey } | { failed: string; at: number }

/** The refusal a failed signature check comes to, without echoing the token. */
function keyRefusal(error: unknown): Refusal {
  const message =
    error instanceof errors.JWKSTimeout
      ? `the provider's keys did not answer within ${KEY_FETCH_TIMEOUT / 1000} s`
      : error instanceof errors.JWKSNoMatchingKey
        ? "no key of the provider's key set matches the token's kid and alg"
        : error instanceof errors.JWSSignatureVerificationFailed
          ? "the signature does not verify with the provider's keys"
          : error instanceof errors.JOSENotSupported || error instanceof errors.JWSInvalid
            ? 'the token uses a JWS header that is not supported (crit, b64) or is malformed'
            : error instanceof errors.JOSEError
              ? `the provider's keys could not be used (${error.code})`
              : "the provider's keys could not be fetched"
  return { refused: 'invalid_key', message }
}

/** Takes logout tokens and security events from the configured identity providers. */
export class IdentityProviders {
  readonly #parts: ReceiverParts
  readonly #keys = new Map<string, Promise<KeySource>>()

  constructor(parts: ReceiverParts) {
    this.#parts = parts
  }

  /**
   * A Back-Channel Logout token (§2.6): valid, new, it ends the linked sessions it names with
   * `idp_logout` (every instance and open tab hears it).
   */
  async backchannelLogout(token: string, now = Date.now()): Promise<Received> {
    const verified = await this.#verify(token, 'logout', now)
    if (isRefusal(verified)) return verified
    const { read, provider } = verified
    const order = checkLogoutClaims(read, provider.audience, now / 1000)
    if (isRefusal(order)) return order
    return this.#endOnce(read.issuer, order, [{ idp: order.sessions }], 'idp_logout', now)
  }

  /**
   * A Security Event Token pushed per RFC 8935: its session-revoked, sessions-revoked and
   * account-disabled events end the sessions their subjects name with `idp_revoked`.
   */
  async securityEvent(token: string, now = Date.now()): Promise<Received> {
    const verified = await this.#verify(token, 'event', now)
    if (isRefusal(verified)) return verified
    const { read, provider } = verified
    const set = checkSecurityEvents(read, provider.audience, now / 1000)
    if (isRefusal(set)) return set
    const targets: EndTarget[] = []
    for (const { subject } of set.events) {
      const sessions = subjectSessions(subject, provider.issuer)
      if (sessions) {
        targets.push({ idp: sessions })
        continue
      }
      const userId = await provider.resolveSubject?.({ ...subject, format: String(subject.format) })
      if (typeof userId === 'string' && userId !== '') targets.push({ userId })
    }
    return this.#endOnce(read.issuer, set, targets, 'idp_revoked', now)
  }

  /** The token read, its issuer configured, and its signature checked by that issuer's keys. */
  async #verify(
    token: string,
    kind: TokenKind,
    now: number,
  ): Promise<{ read: ReadToken; provider: ResolvedIdentityProvider } | Refusal> {
    const read = readToken(token, kind)
    if (isRefusal(read)) return read
    const provider = this.#parts.options.identityProviders.find(
      (candidate) => candidate.issuer === read.issuer,
    )
    if (!provider) {
      return {
        refused: 'invalid_issuer',
        message: `iss ${JSON.stringify(read.issuer)} is not one of the configured identity providers`,
      }
    }
    const source = await this.#keySource(provider, now)
    if ('failed' in source) return { refused: 'invalid_key', message: source.failed }
    try {
      await compactVerify(token, source.keys, { algorithms: ACCEPTED_ALGORITHMS })
    } catch (error) {
      return keyRefusal(error)
    }
    return { read, provider }
  }

  /** The provider's key set; a failed discovery is kept for the cooldown, then tried again. */
  async #keySource(provider: ResolvedIdentityProvider, now: number): Promise<KeySource> {
    const known = this.#keys.get(provider.issuer)
    const source = known && (await known)
    if (source && !('failed' in source && now - source.at >= KEY_REFETCH_COOLDOWN)) return source
    const found = this.#findKeys(provider, now)
    this.#keys.set(provider.issuer, found)
    return found
  }

  async #findKeys(provider: ResolvedIdentityProvider, now: number): Promise<KeySource> {
    const options = { timeoutDuration: KEY_FETCH_TIMEOUT, cooldownDuration: KEY_REFETCH_COOLDOWN }
    if (provider.jwksUri) return { keys: createRemoteJWKSet(new URL(provider.jwksUri), options) }
    const discovery = `${provider.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`
    try {
      const answer = await fetch(discovery, { signal: AbortSignal.timeout(KEY_FETCH_TIMEOUT) })
      if (!answer.ok) throw new Error(`HTTP ${answer.status}`)
      const document = (await answer.json()) as { issuer?: unknown; jwks_uri?: unknown }
      if (document.issuer !== provider.issuer) throw new Error('its issuer is another one')
      const jwksUri = typeof document.jwks_uri === 'string' ? URL.parse(document.jwks_uri) : null
      if (!jwksUri || !/^https?:$/.test(jwksUri.protocol)) throw new Error('no jwks_uri')
      return { keys: createRemoteJWKSet(jwksUri, options) }
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error)
      const failed = `the provider's discovery document (${discovery}) could not be used: ${why}`
      this.#parts.options.logger.warn(`sessionward: ${failed}`)
      return { failed, at: now }
    }
  }

  /**
   * Remembers the token's `jti` and ends its targets in one transaction, so a replay is
   * refused on every instance and a failed end leaves the `jti` free for the provider's retry.
   */
  async #endOnce(
    issuer: string,
    { jti, keepUntil }: { jti: string; keepUntil: number },
    targets: EndTarget[],
    reason: EndReason,
    now: number,
  ): Promise<Received> {
    const { store, endings } = this.#parts
    const endedAt = new Date(now)
    const settled = await store.transaction(async (tx) => {
      if (!(await tx.rememberIdpToken(issuer, jti, new Date(keepUntil * 1000), endedAt))) {
        return null
      }
      const ended: SessionRecord[] = []
      for (const target of targets)
        ended.push(...(await endings.endIn(tx, { target, reason, endedAt })))
      return ended
    })
    const records = await landedValue(settled, () => store.hasIdpToken(issuer, jti))
    if (records === null) {
      return { refused: 'invalid_request', message: 'this jti was taken before: a replayed token' }
    }
    await endings.afterEnd(records, reason)
    return { ended: records.length }
  }
}
