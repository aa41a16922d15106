import type { Context, MiddlewareHandler, Next } from 'hono'
import type { Authentication, WardCore } from './core.ts'
import { UNKNOWN_TOKEN } from './core.ts'
import { type Problem, problemResponse } from './errors.ts'
import type { AccessTokens } from './jwt.ts'
import type { SessionInfo } from './session.ts'
import { type CachedSession, sessionView } from './session-cache.ts'
import { describeStoreError, StoreUnavailableError } from './store.ts'
import { hashToken, isTokenShaped } from './tokens.ts'
import { clearSessionCookie, originAllowed, readCredentials } from './transport.ts'

/** Per-request state the ward keeps beside the context, out of apps' types. */
export interface RequestState {
  entry: CachedSession | null
  /** Why there is no session although credentials were sent; answered by requireSession. */
  problem: Problem | null
  /** Set by `markPassive(c)`: this request does not count as user activity. */
  passive: boolean
}

/** Hono environment of an app that uses a ward: `new Hono<WardEnv>()`. */
export interface WardEnv {
  Variables: {
    /** The live session of this request (read-only), or null. */
    session: Readonly<SessionInfo> | null
  }
}

// Private to the ward: apps see `c.var.session` only, never the cache entry behind it. The state
// is a context variable WardEnv does not declare (a WeakMap keyed by the context did the same at
// a measured cost on every cache hit).
const STATE = 'sessionward:state'
const requestStates = {
  get: (c: Context): RequestState | undefined => (c as Context<StateEnv>).get(STATE),
  set: (c: Context, state: RequestState): void => (c as Context<StateEnv>).set(STATE, state),
}
interface StateEnv {
  Variables: { [STATE]: RequestState | undefined }
}

/**
 * The ward's state for this request, once its middleware has run.
 *
 * @example
 * const entry = requestState(c)?.entry
 */
export function requestState(c: Context): RequestState | undefined {
  return requestStates.get(c)
}

export const NO_TOKEN: Problem = {
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

/**
 * Marks the current request as passive: it will not count as user activity (polling,
 * background refreshes). `/session/ping` is passive itself.
 *
 * @example
 * app.get('/api/notifications', (c) => { markPassive(c); return c.json(...) })
 */
export function markPassive(c: Context<WardEnv>): void {
  const state = requestStates.get(c)
  if (state) state.passive = true
}

/**
 * Reads a token if present and sets `c.var.session`. Never answers by itself: a request with
 * a dead or missing token goes on with `session = null` (so a login page still works) and
 * `requireSession()` answers it. Runs once per request however many times it is mounted.
 */
export function createMiddleware(
  core: WardCore,
  accessTokens?: AccessTokens,
): MiddlewareHandler<WardEnv> {
  return (c, next) => (requestStates.get(c) ? next() : guard(c, next, core, accessTokens, false))
}

/**
 * Lets a request through only with a live session; otherwise answers 401 JSON (with
 * `WWW-Authenticate`), 403 for a cross-origin cookie request, or 503 when the store is down.
 * Reads the token itself when `middleware()` has not run: one layer instead of two.
 */
export function createRequireSession(
  core: WardCore,
  accessTokens?: AccessTokens,
): MiddlewareHandler<WardEnv> {
  return (c, next) => {
    const state = requestStates.get(c)
    if (!state) return guard(c, next, core, accessTokens, true)
    if (!state.entry) return Promise.resolve(problemResponse(c, state.problem ?? NO_TOKEN))
    return next()
  }
}

/** Identifies the request, answers it when a session is required and missing, then records activity. */
async function guard(
  c: Context<WardEnv>,
  next: Next,
  core: WardCore,
  accessTokens: AccessTokens | undefined,
  required: boolean,
): Promise<Response | undefined> {
  const now = Date.now()
  const identified = identify(c, core, accessTokens, now)
  // A cache hit is answered synchronously: no extra turn of the event loop per request.
  const state = identified instanceof Promise ? await identified : identified
  const { entry } = state
  if (!entry) {
    if (required) return problemResponse(c, state.problem ?? NO_TOKEN)
    await next()
    return
  }
  await next()
  if (state.passive || core.options.isPassive(c)) return
  // Fire and forget: the answer is made, and a due database write never holds it.
  core.recordActivity(entry, now, core.options.clientIp(c))
}

/**
 * Reads the request's credentials into its `RequestState` and `c.var.session`: synchronously
 * on a cache hit, with a promise when the store (or a JWT signature) must be consulted.
 */
function identify(
  c: Context<WardEnv>,
  core: WardCore,
  accessTokens: AccessTokens | undefined,
  now: number,
): RequestState | Promise<RequestState> {
  const state: RequestState = { entry: null, problem: null, passive: false }
  requestStates.set(c, state)
  c.set('session', null)
  const credentials = readCredentials(c, core.options)
  if (credentials.kind === 'none') return state
  if (credentials.kind === 'malformed') {
    state.problem = MALFORMED_AUTHORIZATION
    return state
  }
  if (credentials.source === 'cookie' && !originAllowed(c, core.options)) {
    state.problem = ORIGIN_REJECTED
    return state
  }
  const { token, source } = credentials
  // One digest serves the session cache, the database lookup and the verified-JWT cache. Only
  // real session tokens are ever cached under theirs, so a hit needs no shape check first.
  const tokenHash = hashToken(token)
  const cached =
    core.cachedSession(c, tokenHash, now) ??
    (source === 'bearer' ? accessTokens?.cachedSession(c, tokenHash, now) : undefined)
  if (cached) return live(c, state, cached)
  let authenticate: () => Promise<Authentication>
  if (isTokenShaped(token)) {
    authenticate = () => authenticateToken(c, core, accessTokens, tokenHash, now)
  } else if (accessTokens && source === 'bearer') {
    authenticate = () => accessTokens.authenticate(c, token, now, tokenHash)
  } else {
    // Garbage never reaches the database. JWTs only come as Bearer headers.
    state.problem = UNKNOWN_TOKEN
    if (source === 'cookie') clearSessionCookie(c, core.options)
    return state
  }
  return authenticateSafely(core, authenticate).then((outcome) => {
    if ('entry' in outcome) return live(c, state, outcome.entry)
    state.problem = outcome.problem
    // An unknown cookie is dropped. A session_ended one is kept so every later request (the
    // client's ping among them) hears the true reason; logout or login replaces it.
    if (source === 'cookie' && outcome.problem === UNKNOWN_TOKEN) {
      clearSessionCookie(c, core.options)
    }
    return state
  })
}

function live(c: Context<WardEnv>, state: RequestState, entry: CachedSession): RequestState {
  state.entry = entry
  c.set('session', sessionView(entry))
  return state
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
      const retired = await accessTokens.authenticateRetired(c, tokenHash, now)
      if (retired) return retired
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
    return { problem: error.problem }
  }
}
