import { randomUUID } from 'node:crypto'
import { decodeProtectedHeader, errors, jwtVerify, SignJWT } from 'jose'
import { LRUCache } from 'lru-cache'
import type { Authentication, Caller, WardCore } from './core.ts'
import type { ResolvedJwtOptions } from './jwt-options.ts'
import { type Problem, sessionEnded } from './problems.ts'
import type { SessionInfo } from './session.ts'
import type { CachedSession } from './session-cache.ts'
import type { RetiredToken } from './store.ts'
import { generateToken, hashToken } from './tokens.ts'
import type { EndReason } from './vocabulary.ts'

/** The claims of an access token this library issued. */
export interface AccessClaims {
  sub: string
  sid: string
  iat: number
  exp: number
  jti: string
}

/** What `POST /session/token` answers. */
export interface IssuedAccessToken {
  access: string
  expiresIn: number
}

// RFC 9068: access tokens are typed, so an ID token or any other JWT signed with the same key
// is never accepted as one.
const ACCESS_TOKEN_TYPE = 'at+jwt'
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
// Three base64url segments: the only shape worth handing to the verifier.
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/

/**
 * Whether a bearer credential is worth verifying as a JWT (three base64url segments).
 *
 * @example
 * looksLikeJwt('eyJhbGciOi...') // true
 */
export function looksLikeJwt(value: string): boolean {
  return JWT_SHAPE.test(value)
}

// The token names the session and its user: both must match what the store says.
function names(claims: AccessClaims, session: SessionInfo): boolean {
  return session.id === claims.sid && session.userId === claims.sub
}

/** Why an access token is refused before its session is looked at. */
type AccessRefusal = 'invalid' | 'expired'

/**
 * What an access token came to: its session's outcome, or a token refused by its signature or
 * claims (`invalid_access`: a guess) or by its age (`expired_access`: a real token, refreshed
 * with POST /session/token).
 */
export type AccessAuthentication = Authentication | { kind: `${AccessRefusal}_access` }

// A valid token whose session is gone (its row pruned): ended, as far as anyone can tell.
const SESSION_GONE: AccessAuthentication = { kind: 'ended', reason: 'revoked' }

/**
 * JWT access tokens bound to live sessions: issues them, verifies them, finds their session
 * (applying every rule an opaque token gets) and rotates session tokens on refresh.
 */
export class AccessTokens {
  readonly options: ResolvedJwtOptions
  readonly #core: WardCore
  /** Session id → its current token hash, so a JWT finds its cached session without a read. */
  readonly #hashes: LRUCache<string, string>
  /**
   * Tokens already verified, by the SHA-256 of their exact text (no bearer credential is kept
   * in memory): a byte-for-byte repeat of a token whose signature checked out needs no second
   * check (any change makes a different key); its expiry is still checked on every use.
   */
  readonly #verified: LRUCache<string, AccessClaims>

  constructor(core: WardCore, options: ResolvedJwtOptions) {
    this.#core = core
    this.options = options
    this.#hashes = new LRUCache({ max: core.options.cacheSize })
    this.#verified = new LRUCache({ max: core.options.cacheSize })
  }

  /**
   * Signs an access token for a live session: `sub`, `sid`, `iat`, `exp`, `jti` (+ `iss`, `aud`).
   *
   * @example
   * const { access, expiresIn } = await accessTokens.issue(c.var.session)
   */
  async issue(session: SessionInfo): Promise<IssuedAccessToken> {
    const { signing, accessTtl, issuer, audience } = this.options
    const now = Math.floor(Date.now() / 1000)
    // Never outlive the session's absolute end: the token would be refused anyway.
    const expiresIn = Math.max(
      1,
      Math.min(accessTtl, Math.floor(session.expiresAt.getTime() / 1000) - now),
    )
    let jwt = new SignJWT({ sid: session.id })
      .setProtectedHeader({
        alg: signing.alg,
        typ: ACCESS_TOKEN_TYPE,
        ...(signing.kid ? { kid: signing.kid } : {}),
      })
      .setSubject(session.userId)
      .setIssuedAt(now)
      .setExpirationTime(now + expiresIn)
      .setJti(randomUUID())
    if (issuer) jwt = jwt.setIssuer(issuer)
    if (audience) jwt = jwt.setAudience(audience)
    return { access: await jwt.sign(signing.signKey), expiresIn }
  }

  /**
   * Verifies signature, algorithm (pinned per key), `kid`, `typ`, `exp`, `iss` and `aud`.
   *
   * @example
   * const claims = await accessTokens.verify(jwt) // AccessClaims, or 'invalid' or 'expired'
   */
  async verify(jwt: string, digest = hashToken(jwt)): Promise<AccessClaims | AccessRefusal> {
    const known = this.#verified.get(digest)
    if (known) {
      if (this.#unexpired(known, Date.now())) return known
      this.#verified.delete(digest)
      return 'expired'
    }
    if (!looksLikeJwt(jwt)) return 'invalid'
    let kid: unknown
    try {
      kid = decodeProtectedHeader(jwt).kid
    } catch {
      return 'invalid'
    }
    // Unknown kid → refused; a kid is never a path, URL or anything but a lookup key.
    const key = this.options.keys.get(typeof kid === 'string' ? kid : kid === undefined ? '' : '\0')
    if (!key) return 'invalid'
    try {
      const { payload } = await jwtVerify(jwt, key.verifyKey, {
        // The algorithm comes from the key's configuration, never from the token's header.
        algorithms: [key.alg],
        typ: ACCESS_TOKEN_TYPE,
        issuer: this.options.issuer,
        audience: this.options.audience,
        requiredClaims: ['sub', 'sid', 'iat', 'exp', 'jti'],
        // Lowering accessTtl also shortens tokens already out, whatever `exp` they carry.
        maxTokenAge: this.options.accessTtl,
      })
      const { sub, sid, iat, exp, jti } = payload
      if (
        typeof sub !== 'string' ||
        typeof sid !== 'string' ||
        !UUID.test(sid) ||
        typeof jti !== 'string' ||
        typeof iat !== 'number' ||
        typeof exp !== 'number'
      ) {
        return 'invalid'
      }
      const claims = { sub, sid, iat, exp, jti }
      this.#verified.set(digest, claims)
      return claims
    } catch (error) {
      if (error instanceof errors.JWTExpired) return 'expired'
      return 'invalid'
    }
  }

  /** The checks jose makes on time, repeated for a cached token: exp (strictly in the future) and token age. */
  #unexpired(claims: AccessClaims, now: number): boolean {
    const seconds = Math.floor(now / 1000)
    return seconds < claims.exp && seconds - claims.iat <= this.options.accessTtl
  }

  /**
   * The fast path, synchronous and without a database: a token verified before (same SHA-256),
   * unexpired, whose session is fresh in the cache and matches its `sid` and `sub`. Anything
   * else goes to `authenticate`.
   */
  cachedSession(userAgent: string, digest: string, now: number): CachedSession | undefined {
    const claims = this.#verified.get(digest)
    if (!claims || !this.#unexpired(claims, now)) return undefined
    const tokenHash = this.#hashes.get(claims.sid)
    if (tokenHash === undefined) return undefined
    const entry = this.#core.sessions.passing(tokenHash, now, userAgent)
    return entry && names(claims, entry.session) ? entry : undefined
  }

  /**
   * Authenticates a request by access token: a valid JWT counts only while its `sid` session is
   * live under the same idle, absolute and user-agent rules as the session token. `digest` is
   * the SHA-256 of `jwt` when the caller has it already.
   */
  async authenticate(
    caller: Caller,
    jwt: string,
    now: number,
    digest = hashToken(jwt),
  ): Promise<AccessAuthentication> {
    const claims = await this.verify(jwt, digest)
    if (typeof claims === 'string') return { kind: `${claims}_access` }
    const core = this.#core
    let tokenHash = this.#hashes.get(claims.sid)
    let outcome: Authentication | undefined
    if (tokenHash !== undefined) {
      const entry = core.sessions.passing(tokenHash, now, caller.userAgent)
      outcome = entry ? { kind: 'live', entry } : await core.authenticate(caller, tokenHash, now)
    }
    // Not known here yet, or its token was rotated (on another instance) or its row pruned.
    if (!outcome || outcome.kind === 'unknown') {
      const record = await core.store.findById(claims.sid)
      if (!record) return SESSION_GONE
      if (record.endedAt) return { kind: 'ended', reason: record.endReason ?? 'revoked' }
      tokenHash = record.tokenHash
      this.#hashes.set(claims.sid, tokenHash)
      outcome = await core.authenticate(caller, tokenHash, now)
    }
    if (outcome.kind === 'unknown') return SESSION_GONE
    if (outcome.kind === 'ended') return outcome
    return names(claims, outcome.entry.session) ? outcome : { kind: 'invalid_access' }
  }

  /** Notes the current token hash of a session (when a JWT is issued for it). */
  remember(sessionId: string, tokenHash: string): void {
    this.#hashes.set(sessionId, tokenHash)
  }

  /**
   * Rotation: replaces the session's token and retires the old one. If the old token is no
   * longer the current one, a concurrent refresh that lost the race (the immediately previous
   * token, within `reuseInterval`) gets no new token (`token: undefined`): the winner's is the
   * session's one live token. Anything else is reuse: the session ends.
   */
  async rotate(
    entry: CachedSession,
    oldHash: string,
    now = Date.now(),
  ): Promise<{ token: string | undefined } | { problem: Problem }> {
    const token = generateToken()
    const newHash = hashToken(token)
    const store = this.#core.store
    if (!(await store.rotateToken(entry.session.id, oldHash, newHash, new Date(now)))) {
      const retired = await store.findRetired(oldHash)
      if (retired && this.#withinReuseInterval(retired, oldHash, now)) return { token: undefined }
      return { problem: sessionEnded(retired ? await this.#reused(retired) : null) }
    }
    // The old token must stop working here at once, not after the cache's TTL.
    this.#core.rekey(oldHash, newHash)
    this.#hashes.set(entry.session.id, newHash)
    return { token }
  }

  /**
   * A retired session token presented again. The immediately previous token within
   * `reuseInterval` of the rotation is the same client racing itself (tabs share one cookie):
   * it authenticates as the session's current token. Any other is theft detection: the session
   * ends with `refresh_reuse` (the thief and the user both lose it; the user signs in again).
   * Returns null when the token was never one of ours.
   */
  async authenticateRetired(
    caller: Caller,
    tokenHash: string,
    now: number,
  ): Promise<Authentication | null> {
    const retired = await this.#core.store.findRetired(tokenHash)
    if (!retired) return null
    if (this.#withinReuseInterval(retired, tokenHash, now)) {
      return this.#core.authenticate(caller, retired.tokenHash, now)
    }
    return { kind: 'ended', reason: await this.#reused(retired) }
  }

  // Only the immediately previous token, only briefly: an older one is never a race.
  #withinReuseInterval(retired: RetiredToken, tokenHash: string, now: number): boolean {
    return (
      retired.endedAt === null &&
      retired.previous === tokenHash &&
      retired.rotatedAt !== null &&
      now - retired.rotatedAt.getTime() < this.options.reuseInterval * 1000
    )
  }

  /** Ends the session of a retired token used again (theft detection); says why it ended. */
  async #reused(retired: RetiredToken): Promise<EndReason> {
    if (retired.endedAt !== null) return retired.endReason ?? 'revoked'
    await this.#core.endings.end(
      { ids: [retired.id] },
      'refresh_reuse',
      'a retired session token was used again',
    )
    return 'refresh_reuse'
  }
}
