import type { Context, MiddlewareHandler, Next } from 'hono'
import type { Caller, WardCore } from './core.ts'
import { logStoreFailure, problemResponse } from './errors.ts'
import type { AccessAuthentication, AccessTokens } from './jwt.ts'
import {
  EXPIRED_ACCESS_TOKEN,
  INVALID_ACCESS_TOKEN,
  MALFORMED_AUTHORIZATION,
  NO_TOKEN,
  ORIGIN_REJECTED,
  type Problem,
  SESSION_HELD,
  sessionEnded,
  storeUnavailable,
  tooManyGuesses,
  UNKNOWN_TOKEN,
} from './problems.ts'
import { type HeldRoute, holdAllows, holdVerdict } from './rules.ts'
import type { SessionInfo } from './session.ts'
import { type CachedSession, sessionView } from './session-cache.ts'
import { StoreFailure } from './store.ts'
import { addressKey, type TokenGuessLimit } from './throttle.ts'
import { hashToken, isTokenShaped } from './tokens.ts'
import {
  type Credentials,
  clearSessionCookie,
  originAllowed,
  readCredentials,
  userAgentOf,
} from './transport.ts'

/** Why a request that sent credentials has no session. */
export type Refusal =
  | Exclude<AccessAuthentication, { kind: 'live' }>
  | { kind: 'malformed' }
  | { kind: 'origin_rejected' }
  | { kind: 'throttled'; retryAfter: number }
  | { kind: 'store_unavailable'; retryable: boolean }

/**
 * What each refusal means at the edge, in one table: the answer, whether it was a guess (the
 * token-guess throttle keeps the count; anything else gives it back), and whether the cookie
 * that carried it is dropped.
 */
const REFUSALS: {
  [K in Refusal['kind']]: {
    answer: (refusal: Extract<Refusal, { kind: K }>) => Problem
    guess: boolean
    dropCookie: boolean
  }
} = {
  // Nobody's token: a guess, and a cookie holding one is cleared at once.
  unknown: { answer: () => UNKNOWN_TOKEN, guess: true, dropCookie: true },
  malformed: { answer: () => MALFORMED_AUTHORIZATION, guess: true, dropCookie: false },
  invalid_access: { answer: () => INVALID_ACCESS_TOKEN, guess: true, dropCookie: false },
  // Its signature was valid: a real token, refreshed with POST /session/token.
  expired_access: { answer: () => EXPIRED_ACCESS_TOKEN, guess: false, dropCookie: false },
  // A real token; the cookie is kept so every later request (the client's ping among them)
  // hears the true reason; logout or login replaces it.
  ended: { answer: ({ reason }) => sessionEnded(reason), guess: false, dropCookie: false },
  origin_rejected: { answer: () => ORIGIN_REJECTED, guess: false, dropCookie: false },
  throttled: {
    answer: ({ retryAfter }) => tooManyGuesses(retryAfter),
    guess: false,
    dropCookie: false,
  },
  // Fail closed: without the store nobody is authenticated, and nothing was guessed.
  store_unavailable: {
    answer: ({ retryable }) => storeUnavailable(retryable),
    guess: false,
    dropCookie: false,
  },
}

/** The row of the table for a refusal. */
function consequences(refusal: Refusal): {
  answer: (refusal: Refusal) => Problem
  guess: boolean
  dropCookie: boolean
} {
  return REFUSALS[refusal.kind] as ReturnType<typeof consequences>
}

/**
 * The answer for a request without a live session: why its credentials were refused, or
 * `fallback` when it sent none.
 *
 * @example
 * if (!requestState(c)?.entry) return problemResponse(c, refusalAnswer(requestState(c), NO_TOKEN))
 */
export function refusalAnswer(state: RequestState | undefined, fallback: Problem): Problem {
  const refusal = state?.refusal
  return refusal ? consequences(refusal).answer(refusal) : fallback
}

/** Per-request state the ward keeps beside the context, out of apps' types. */
export class RequestState {
  /** The cache entry behind `c.var.session`: private, so printing the state shows no hash. */
  #entry: CachedSession | null = null
  /** Why there is no session although credentials were sent; answered by requireSession. */
  refusal: Refusal | null = null
  /** Set by `markPassive(c)`: this request does not count as user activity. */
  passive = false

  /** When the request was identified (ms): the one clock reading all its checks share. */
  readonly at: number

  constructor(at: number) {
    this.at = at
  }

  get entry(): CachedSession | null {
    return this.#entry
  }

  /** The request has this live session. */
  admit(entry: CachedSession): void {
    this.#entry = entry
  }
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
// symbol no other module holds, as a plain property (as fast as the context variable was; a
// non-enumerable one cost ~0.08 µs more a request, a WeakMap keyed by the context 0.3 to 0.5
// µs), and the entry is a private field of the state, so a logger printing the context prints
// no token hash.
const STATE = Symbol('sessionward request state')
type WithState = Context & { [STATE]?: RequestState }
const requestStates = {
  get: (c: Context): RequestState | undefined => (c as WithState)[STATE],
  set: (c: Context, state: RequestState): void => {
    ;(c as WithState)[STATE] = state
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
  return (c, next) => (requestStates.get(c) ? next() : guard(c, next, core, accessTokens, null))
}

/**
 * Lets a request through only with a live session; otherwise answers 401 JSON (with
 * `WWW-Authenticate`), 403 for a cross-origin cookie request, or 503 when the store is down.
 * Reads the token itself when `middleware()` has not run: one layer instead of two.
 */
export function createRequireSession(
  core: WardCore,
  accessTokens?: AccessTokens,
  routeOf: (c: Context) => HeldRoute = () => 'other',
): MiddlewareHandler<WardEnv> {
  return (c, next) => {
    const state = requestStates.get(c)
    if (!state) return guard(c, next, core, accessTokens, routeOf)
    if (!state.entry) return Promise.resolve(problemResponse(c, refusalAnswer(state, NO_TOKEN)))
    if (refusesHeld(c, state.entry, routeOf, state.at))
      return Promise.resolve(problemResponse(c, SESSION_HELD))
    return next()
  }
}

/**
 * A held session (`newDevice.hold`) asking for a route it may not use yet: the verdict is the
 * rules' (rules.ts); a lapsed hold was ended when the session was looked up.
 */
function refusesHeld(
  c: Context,
  entry: CachedSession,
  routeOf: (c: Context) => HeldRoute,
  now: number,
): boolean {
  return entry.heldUntil !== null && !holdAllows(holdVerdict(entry.heldUntil, now), routeOf(c))
}

/** Identifies the request, answers it when a session is required and missing, then records activity. */
function guard(
  c: Context<WardEnv>,
  next: Next,
  core: WardCore,
  accessTokens: AccessTokens | undefined,
  required: ((c: Context) => HeldRoute) | null,
): ReturnType<MiddlewareHandler<WardEnv>> {
  const now = Date.now()
  const identified = identify(c, core, accessTokens, now)
  // A cache hit goes on synchronously: no extra turn of the event loop per request.
  return identified instanceof Promise
    ? identified.then((state) => proceed(c, next, core, state, required, now))
    : proceed(c, next, core, identified, required, now)
}

function proceed(
  c: Context<WardEnv>,
  next: Next,
  core: WardCore,
  state: RequestState,
  required: ((c: Context) => HeldRoute) | null,
  now: number,
): ReturnType<MiddlewareHandler<WardEnv>> {
  const { entry } = state
  if (!entry) {
    if (required) return Promise.resolve(problemResponse(c, refusalAnswer(state, NO_TOKEN)))
    return next()
  }
  if (required && refusesHeld(c, entry, required, now)) {
    return Promise.resolve(problemResponse(c, SESSION_HELD))
  }
  // Within the second of the last activity, with no write due, the request adds nothing to
  // record (activity and address are kept to the second): nothing to do after the handler.
  if (!core.sessions.activityNews(entry, now)) return next()
  return next().then(() => {
    if (state.passive || core.options.isPassive(c)) return
    // Fire and forget: the answer is made, and a due database write never holds it.
    core.sessions.recordActivity(entry, now, core.options.clientIp(c))
  })
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
  const state = new RequestState(now)
  requestStates.set(c, state)
  const credentials = readCredentials(c, core.options)
  if (credentials.kind === 'none') {
    c.set('session', null)
    return state
  }
  if (credentials.kind === 'malformed') {
    return consult(c, core, state, credentials, null, async () =>
      refuse(c, core, state, credentials, { kind: 'malformed' }),
    )
  }
  if (credentials.source === 'cookie' && !originAllowed(c, core.options)) {
    return refuse(c, core, state, credentials, { kind: 'origin_rejected' })
  }
  const userAgent = userAgentOf(c)
  // One digest serves the session cache, the database lookup and the verified-JWT cache. Only
  // real session tokens are ever cached under theirs, so a hit needs no shape check first.
  const hash = hashToken(credentials.token)
  const cached =
    core.sessions.passing(hash, now, userAgent) ??
    (credentials.source === 'bearer'
      ? accessTokens?.cachedSession(userAgent, hash, now)
      : undefined)
  // A cache hit is never throttled: the session is known, nothing is guessed.
  if (cached) return live(c, state, cached)
  return lookUpToken(c, core, accessTokens, state, credentials, hash, userAgent, now)
}

/** A token the caches could not answer: from the store or the JWT keys, under the throttle. */
function lookUpToken(
  c: Context<WardEnv>,
  core: WardCore,
  accessTokens: AccessTokens | undefined,
  state: RequestState,
  credentials: Extract<Credentials, { kind: 'token' }>,
  hash: string,
  userAgent: string,
  now: number,
): Promise<RequestState> {
  const caller: Caller = { userAgent, request: c }
  return consult(c, core, state, credentials, hash, async () => {
    const outcome = await verify(core, accessTokens, caller, credentials, hash, now)
    return settle(c, core, state, credentials, outcome)
  })
}

/** Runs `lookUp` under the token-guess throttle of the client's address, when there is one. */
function consult(
  c: Context<WardEnv>,
  core: WardCore,
  state: RequestState,
  credentials: Credentials,
  tokenHash: string | null,
  lookUp: () => Promise<RequestState>,
): Promise<RequestState> {
  const guesses = core.throttles.tokenGuesses
  const ip = guesses ? core.options.clientIp(c) : undefined
  // Without an address there is nothing to count by: one shared key would lock everyone out.
  if (!guesses || ip === undefined) return lookUp()
  return throttled(guesses, addressKey(ip), tokenHash, lookUp).then((retryAfter) =>
    retryAfter > 0 ? refuse(c, core, state, credentials, { kind: 'throttled', retryAfter }) : state,
  )
}

/**
 * Counts the lookup against the client's address before it runs and refuses one over the limit
 * (the seconds to wait, or 0), so at most the limit of a guesser's tokens reach the store
 * however they are sent; the count is given back when the token was real.
 */
function throttled(
  guesses: TokenGuessLimit,
  address: string,
  tokenHash: string | null,
  lookUp: () => Promise<RequestState>,
): Promise<number> {
  return guesses.guard(address, tokenHash, async () => {
    const { refusal } = await lookUp()
    return refusal !== null && consequences(refusal).guess
  })
}

/** What a session token or an access token is worth, from the store or the JWT keys. */
function verify(
  core: WardCore,
  accessTokens: AccessTokens | undefined,
  caller: Caller,
  credentials: Extract<Credentials, { kind: 'token' }>,
  tokenHash: string,
  now: number,
): Promise<AccessAuthentication | Refusal> {
  const { token, source } = credentials
  if (isTokenShaped(token)) {
    return failClosed(core, () => authenticateToken(core, accessTokens, caller, tokenHash, now))
  }
  if (accessTokens && source === 'bearer') {
    return failClosed(core, () => accessTokens.authenticate(caller, token, now, tokenHash))
  }
  // Garbage never reaches the database. JWTs only come as Bearer headers.
  return Promise.resolve({ kind: 'unknown' })
}

/** Takes a verdict into the request's state: a live session, or the refusal and its consequences. */
function settle(
  c: Context<WardEnv>,
  core: WardCore,
  state: RequestState,
  credentials: Credentials,
  outcome: AccessAuthentication | Refusal,
): RequestState {
  if (outcome.kind === 'live') return live(c, state, outcome.entry)
  return refuse(c, core, state, credentials, outcome)
}

function refuse(
  c: Context<WardEnv>,
  core: WardCore,
  state: RequestState,
  credentials: Credentials,
  refusal: Refusal,
): RequestState {
  state.refusal = refusal
  c.set('session', null)
  if (consequences(refusal).dropCookie && credentials.kind === 'token') {
    if (credentials.source === 'cookie') clearSessionCookie(c, core.options)
  }
  return state
}

function live(c: Context<WardEnv>, state: RequestState, entry: CachedSession): RequestState {
  state.admit(entry)
  // A held session is not the app's to see until approved (requireSession answers it 403).
  c.set('session', entry.heldUntil === null ? sessionView(entry) : null)
  return state
}

async function authenticateToken(
  core: WardCore,
  accessTokens: AccessTokens | undefined,
  caller: Caller,
  tokenHash: string,
  now: number,
): Promise<AccessAuthentication> {
  const outcome = await core.authenticate(caller, tokenHash, now)
  // With rotation on, an unknown token may be a retired one presented again: theft detection.
  if (outcome.kind === 'unknown' && accessTokens?.options.rotateOnRefresh) {
    return (await accessTokens.authenticateRetired(caller, tokenHash, now)) ?? outcome
  }
  return outcome
}

/** A verdict, or `store_unavailable` when the store could not answer (logged, no token). */
async function failClosed(
  core: WardCore,
  authenticate: () => Promise<AccessAuthentication>,
): Promise<AccessAuthentication | Refusal> {
  try {
    return await authenticate()
  } catch (error) {
    if (!(error instanceof StoreFailure)) throw error
    logStoreFailure(core.options.logger, error)
    return { kind: 'store_unavailable', retryable: error.retryable }
  }
}
