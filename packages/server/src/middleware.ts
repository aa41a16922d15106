import type { Context, MiddlewareHandler, Next } from 'hono'
import type { Authentication, WardCore } from './core.ts'
import { UNKNOWN_TOKEN } from './core.ts'
import { type Problem, problemResponse } from './errors.ts'
import { type AccessTokens, EXPIRED_ACCESS_TOKEN } from './jwt.ts'
import type { SessionInfo } from './session.ts'
import { type CachedSession, sessionView } from './session-cache.ts'
import { describeStoreError, StoreUnavailableError } from './store.ts'
import { addressKey, type TokenGuessLimit, tooManyGuesses } from './throttle.ts'
import { hashToken, isTokenShaped } from './tokens.ts'
import {
  type Credentials,
  clearSessionCookie,
  originAllowed,
  readCredentials,
} from './transport.ts'

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

// Private to the ward: apps see `c.var.session` only, never the cache entry behind it (c.var
// copies every context variable, so the state cannot be one). It hangs on the context under a
// symbol no other module holds, not enumerable: a plain property would be as fast as the context
// variable was, but a logger printing the context would print the entry's token hash. Measured:
// ~0.08 µs a request over a plain property; a WeakMap keyed by the context, 0.3 to 0.5 µs.
const STATE = Symbol('sessionward request state')
type WithState = Context & { [STATE]?: RequestState }
const requestStates = {
  get: (c: Context): RequestState | undefined => (c as WithState)[STATE],
  set: (c: Context, state: RequestState): void => {
    Object.defineProperty(c, STATE, { value: state, configurable: true })
  },
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
  let tokenHash: string | null = null
  if (credentials.kind === 'token') {
    if (credentials.source === 'cookie' && !originAllowed(c, core.options)) {
      state.problem = ORIGIN_REJECTED
      return state
    }
    // One digest serves the session cache, the database lookup and the verified-JWT cache. Only
    // real session tokens are ever cached under theirs, so a hit needs no shape check first.
    tokenHash = hashToken(credentials.token)
    const cached =
      core.cachedSession(c, tokenHash, now) ??
      (credentials.source === 'bearer' ? accessTokens?.cachedSession(c, tokenHash, now) : undefined)
    // A cache hit is never throttled: the session is known, nothing is guessed.
    if (cached) return live(c, state, cached)
  }
  const verify = () => verifyCredentials(c, core, accessTokens, credentials, tokenHash, now)
  const guesses = core.throttles.tokenGuesses
  const ip = guesses ? core.options.clientIp(c) : undefined
  // Without an address there is nothing to count by: one shared key would lock everyone out.
  if (!guesses || ip === undefined) return settle(c, core, state, credentials, verify())
  return throttled(guesses, addressKey(ip), tokenHash, state, async () =>
    settle(c, core, state, credentials, await verify()),
  )
}

/**
 * Counts the lookup against the client's address before it runs and refuses one over the limit
 * with 429, so at most the limit of a guesser's tokens reach the store however they are sent;
 * the count is given back when the token was real.
 */
async function throttled(
  guesses: TokenGuessLimit,
  address: string,
  tokenHash: string | null,
  state: RequestState,
  lookUp: () => Promise<RequestState>,
): Promise<RequestState> {
  const seconds = await guesses.guard(address, tokenHash, async () => isGuess(await lookUp()))
  if (seconds > 0) state.problem = tooManyGuesses(seconds)
  return state
}

/**
 * A guess: a token the ward does not know or cannot read. Not one: no token, a live or ended
 * session (its token was real), an expired access token (its signature was valid), a store that
 * could not answer.
 */
function isGuess({ problem }: RequestState): boolean {
  return (
    problem !== null &&
    problem.error === 'unauthenticated' &&
    problem.invalidToken === true &&
    problem !== EXPIRED_ACCESS_TOKEN
  )
}

/** What the credentials are worth, from the store or the JWT keys when they need one. */
function verifyCredentials(
  c: Context<WardEnv>,
  core: WardCore,
  accessTokens: AccessTokens | undefined,
  credentials: Exclude<Credentials, { kind: 'none' }>,
  tokenHash: string | null,
  now: number,
): Authentication | Promise<Authentication> {
  if (credentials.kind === 'malformed' || tokenHash === null) {
    return { problem: MALFORMED_AUTHORIZATION }
  }
  const { token, source } = credentials
  if (isTokenShaped(token)) {
    return authenticateSafely(core, () => authenticateToken(c, core, accessTokens, tokenHash, now))
  }
  if (accessTokens && source === 'bearer') {
    return authenticateSafely(core, () => accessTokens.authenticate(c, token, now, tokenHash))
  }
  // Garbage never reaches the database. JWTs only come as Bearer headers.
  return { problem: UNKNOWN_TOKEN }
}

function settle(
  c: Context<WardEnv>,
  core: WardCore,
  state: RequestState,
  credentials: Exclude<Credentials, { kind: 'none' }>,
  verdict: Authentication | Promise<Authentication>,
): RequestState | Promise<RequestState> {
  if (verdict instanceof Promise) {
    return verdict.then((outcome) => settle(c, core, state, credentials, outcome))
  }
  if ('entry' in verdict) return live(c, state, verdict.entry)
  state.problem = verdict.problem
  // An unknown cookie is dropped. A session_ended one is kept so every later request (the
  // client's ping among them) hears the true reason; logout or login replaces it.
  if (credentials.kind === 'token' && credentials.source === 'cookie') {
    if (verdict.problem === UNKNOWN_TOKEN) clearSessionCookie(c, core.options)
  }
  return state
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
