import type { Context, MiddlewareHandler } from 'hono'
import type { Authentication, CacheEntry, WardCore } from './core.ts'
import { UNKNOWN_TOKEN } from './core.ts'
import { type Problem, problemResponse } from './errors.ts'
import type { AccessTokens } from './jwt.ts'
import type { SessionInfo } from './session.ts'
import { describeStoreError, StoreUnavailableError } from './store.ts'
import { hashToken, isTokenShaped } from './tokens.ts'
import { clearSessionCookie, originAllowed, readCredentials } from './transport.ts'

/** Per-request state the ward keeps on the context. */
export interface RequestState {
  entry: CacheEntry | null
  /** Why there is no session although credentials were sent; answered by requireSession. */
  problem: Problem | null
  /** Set by `markPassive(c)`: this request does not count as user activity. */
  passive: boolean
}

/** Hono environment of an app that uses a ward: `new Hono<WardEnv>()`. */
export interface WardEnv {
  Variables: {
    /** The live session of this request, or null. */
    session: SessionInfo | null
    sessionward: RequestState
  }
}

const NO_TOKEN: Problem = {
  status: 401,
  error: 'unauthenticated',
  message: 'no session token: send Authorization: Bearer <token> or the session cookie',
}

const MALFORMED_AUTHORIZATION: Problem = {
  status: 401,
  error: 'unauthenticated',
  message: 'the Authorization header must be "Bearer <token>" or "Token <token>"',
  invalidToken: true,
}

const ORIGIN_REJECTED: Problem = {
  status: 403,
  error: 'origin_rejected',
  message: 'cookie-authenticated requests that change state must come from the app’s own origin',
}

export const STORE_UNAVAILABLE: Problem = {
  status: 503,
  error: 'store_unavailable',
  message: 'the session store is unavailable; try again shortly',
}

/**
 * Marks the current request as passive: it will not count as user activity (polling,
 * background refreshes). `/session/ping` is passive itself.
 *
 * @example
 * app.get('/api/notifications', (c) => { markPassive(c); return c.json(...) })
 */
export function markPassive(c: Context<WardEnv>): void {
  const state = c.get('sessionward')
  if (state) state.passive = true
}

/**
 * Reads a token if present and sets `c.var.session`. Never answers by itself: a request with
 * a dead or missing token goes on with `session = null` (so a login page still works) and
 * `requireSession()` answers it.
 */
export function createMiddleware(
  core: WardCore,
  accessTokens?: AccessTokens,
): MiddlewareHandler<WardEnv> {
  return async (c, next) => {
    const state: RequestState = { entry: null, problem: null, passive: false }
    c.set('sessionward', state)
    c.set('session', null)
    const credentials = readCredentials(c, core.options)
    if (credentials.kind === 'none') return next()
    if (credentials.kind === 'malformed') {
      state.problem = MALFORMED_AUTHORIZATION
      return next()
    }
    if (credentials.source === 'cookie' && !originAllowed(c, core.options)) {
      state.problem = ORIGIN_REJECTED
      return next()
    }
    const now = Date.now()
    let entry: CacheEntry | undefined
    let tokenHash: string | undefined
    if (isTokenShaped(credentials.token)) {
      tokenHash = hashToken(credentials.token)
      entry = core.cachedSession(c, tokenHash, now)
    } else if (!(accessTokens && credentials.source === 'bearer')) {
      // Garbage never reaches the cache or the database. JWTs only come as Bearer headers.
      state.problem = UNKNOWN_TOKEN
      if (credentials.source === 'cookie') clearSessionCookie(c, core.options)
      return next()
    }
    if (!entry) {
      const outcome = await authenticateSafely(core, () =>
        tokenHash === undefined
          ? (accessTokens as AccessTokens).authenticate(c, credentials.token, now)
          : authenticateToken(c, core, accessTokens, tokenHash, now),
      )
      if ('problem' in outcome) {
        state.problem = outcome.problem
        // An unknown cookie is dropped. A session_ended one is kept so every later request
        // (the client's ping among them) hears the true reason; logout or login replaces it.
        if (credentials.source === 'cookie' && outcome.problem === UNKNOWN_TOKEN) {
          clearSessionCookie(c, core.options)
        }
        return next()
      }
      entry = outcome.entry
    }
    state.entry = entry
    c.set('session', entry.session)
    await next()
    if (state.passive || core.options.isPassive(c)) return
    try {
      // Usually synchronous: a promise comes back only when a database write is due.
      await core.recordActivity(entry, now, core.options.clientIp(c))
    } catch (error) {
      // The answer is already made; the cache keeps the activity and the next write retries.
      core.options.logger.warn(
        `sessionward: could not record activity: ${describeStoreError(error)}`,
      )
    }
  }
}

async function authenticateToken(
  c: Context,
  core: WardCore,
  accessTokens: AccessTokens | undefined,
  tokenHash: string,
  now: number,
): Promise<Authentication> {
  const outcome = await core.authenticate(c, tokenHash, now)
  // With rotation on, an unknown token may be a retired one presented again: theft detection.
  if (accessTokens?.options.rotateOnRefresh && 'problem' in outcome) {
    if (outcome.problem === UNKNOWN_TOKEN) {
      const reuse = await accessTokens.detectReuse(tokenHash)
      if (reuse) return { problem: reuse }
    }
  }
  return outcome
}

async function authenticateSafely(
  core: WardCore,
  authenticate: () => Promise<Authentication>,
): Promise<Authentication> {
  try {
    return await authenticate()
  } catch (error) {
    if (!(error instanceof StoreUnavailableError)) throw error
    // Fail closed: without the store nobody is authenticated.
    core.options.logger.error(
      `sessionward: session store unavailable: ${describeStoreError(error)}`,
    )
    return { problem: STORE_UNAVAILABLE }
  }
}

/**
 * Lets a request through only with a live session; otherwise answers 401 JSON (with
 * `WWW-Authenticate`), 403 for a cross-origin cookie request, or 503 when the store is down.
 */
export function createRequireSession(): MiddlewareHandler<WardEnv> {
  return async (c, next) => {
    const state = c.get('sessionward')
    if (!state) {
      throw new Error('sessionward: requireSession() needs ward.middleware() to run first')
    }
    if (!state.entry) return problemResponse(c, state.problem ?? NO_TOKEN)
    await next()
  }
}
