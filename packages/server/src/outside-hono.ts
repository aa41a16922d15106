import { type Context, Hono, type MiddlewareHandler } from 'hono'
import { HTTPException } from 'hono/http-exception'
import { problemResponse } from './errors.ts'
import type { CreateSessionOptions } from './idp-options.ts'
import { markPassive, refusalAnswer, requestState, type WardEnv } from './middleware.ts'
import { type ErrorCode, NO_TOKEN, type Problem, SESSION_HELD } from './problems.ts'
import type { CreatedSession, SessionInfo } from './session.ts'
import type { EndReason } from './vocabulary.ts'

/*
 * The framework-free entries (`ward.authenticate(request)`, `ward.signIn(request, userId)`).
 * Each runs the request through a tiny internal Hono app, so the ward decides exactly as its
 * middleware and `createSession` do, and `policy(userId, c)`, `clientIp(c)`, `passive` and
 * the hooks get a real Context. The app's env carries the call's facts in and its outcome out.
 */

/** What `ward.authenticate` and `ward.signIn` know of a request beyond the request itself. */
export interface RequestFacts {
  /**
   * The address the request came from (the socket's), as `@hono/node-server` would give it: the
   * default `clientIp` records it; a `clientIp(c)` option still decides (it sees the request).
   */
  ip?: string
}

/** What `ward.signIn` takes besides the request: its facts, and `createSession`'s options. */
export interface SignInFacts extends RequestFacts, CreateSessionOptions {}

/** Options of `ward.authenticate(request, options)`. */
export interface AuthenticateOptions extends RequestFacts {
  /** The request is not user activity (polling, a background refresh): nothing is recorded. */
  passive?: boolean
}

/** Why the ward refuses a request: the JSON body of its answer, and the status. */
export interface WardProblem {
  status: number
  error: ErrorCode
  message: string
  /** Why the session ended, with `error: 'session_ended'`. */
  reason?: EndReason
}

/**
 * A refusal: the problem, the headers the ward sets on the answer (`WWW-Authenticate` on a
 * 401, `Cache-Control`, a `Set-Cookie` dropping a dead cookie; no `Content-Type`), and the
 * ready JSON answer.
 */
export interface Refusal {
  problem: WardProblem
  headers: Headers
  response: Response
}

/** What `ward.authenticate(request)` decides: the live session (read-only), or a refusal. */
export type AuthenticateOutcome = { session: Readonly<SessionInfo>; headers: Headers } | Refusal

/**
 * What `ward.signIn(request, userId)` gives: the created session and the headers to send
 * (the session cookie's `Set-Cookie` when cookies are on), or a refusal (403
 * `origin_rejected`, 403 `session_limit`).
 */
export type SignInOutcome = (CreatedSession & { headers: Headers }) | Refusal

/** The internal app's env: node-server's socket shape for `clientIp`, plus the call's outcome. */
interface Call<T> {
  incoming: { socket: { remoteAddress?: string } }
  outcome?: T
  problem?: Problem
}

function call<T>(facts: RequestFacts): Call<T> {
  if (facts.ip !== undefined && typeof facts.ip !== 'string') {
    throw new TypeError('sessionward: the ip option must be a string')
  }
  return { incoming: { socket: { remoteAddress: facts.ip } } }
}

// The ward's own answer stays the ward's: an unexpected error rejects the caller's promise.
function rethrow(error: Error): never {
  throw error
}

/** The answer's headers a caller who writes its own body needs: all but the body's type. */
function wardHeaders(response: Response): Headers {
  const headers = new Headers(response.headers)
  headers.delete('content-type')
  return headers
}

function refusal(problem: Problem, response: Response): Refusal {
  const reason = problem.extra?.reason as EndReason | undefined
  return {
    problem: {
      status: problem.status,
      error: problem.error,
      message: problem.message,
      ...(reason ? { reason } : {}),
    },
    headers: wardHeaders(response),
    response,
  }
}

/**
 * `ward.authenticate`: the request through the ward's middleware, then the decision
 * `requireSession()` would answer. Activity is recorded as for any request behind the
 * middleware, unless `passive`.
 *
 * @example
 * const authenticate = createAuthenticate(middleware)
 * const outcome = await authenticate(request, { ip: '203.0.113.7' })
 */
export function createAuthenticate(
  middleware: MiddlewareHandler<WardEnv>,
): (request: Request, options?: AuthenticateOptions) => Promise<AuthenticateOutcome> {
  type AuthenticateCall = Call<Readonly<SessionInfo>> & { passive: boolean }
  const gate = new Hono<WardEnv>()
  gate.use('*', middleware)
  gate.all('*', (c) => {
    const env = c.env as AuthenticateCall
    if (env.passive) markPassive(c)
    const state = requestState(c)
    if (state?.entry && c.var.session) {
      env.outcome = c.var.session
      return c.body(null, 204)
    }
    // A new device's session waiting for approval (newDevice.hold) is no session to the app yet.
    env.problem = state?.entry?.heldUntil != null ? SESSION_HELD : refusalAnswer(state, NO_TOKEN)
    return problemResponse(c, env.problem)
  })
  gate.onError(rethrow)
  return async (request, options = {}) => {
    const env: AuthenticateCall = { ...call(options), passive: options.passive === true }
    const response = await gate.fetch(request, env)
    if (env.outcome) return { session: env.outcome, headers: wardHeaders(response) }
    if (!env.problem) throw new Error('unreachable: the gate decided nothing')
    return refusal(env.problem, response)
  }
}

/**
 * `ward.signIn`: `createSession` for a request outside Hono, its refusals as outcomes.
 *
 * @example
 * const signIn = createSignIn((c, userId) => ward.createSession(c, userId))
 * const outcome = await signIn(request, 'user-1', { ip })
 */
export function createSignIn(
  createSession: (
    c: Context,
    userId: string,
    options?: CreateSessionOptions,
  ) => Promise<CreatedSession>,
): (request: Request, userId: string, facts?: SignInFacts) => Promise<SignInOutcome> {
  type SignInCall = Call<CreatedSession> & { userId: string; options?: CreateSessionOptions }
  const gate = new Hono<{ Bindings: SignInCall }>()
  gate.all('*', async (c) => {
    try {
      c.env.outcome = await createSession(c, c.env.userId, c.env.options)
      return c.body(null, 204)
    } catch (error) {
      // createSession's refusals are HTTPExceptions carrying their JSON answer.
      if (!(error instanceof HTTPException)) throw error
      const response = error.getResponse()
      const body = (await response.clone().json()) as Pick<Problem, 'error' | 'message'>
      c.env.problem = { status: error.status as Problem['status'], ...body }
      return response
    }
  })
  gate.onError(rethrow)
  return async (request, userId, { idp, deviceId, ...facts } = {}) => {
    const env: SignInCall = { ...call(facts), userId, options: { idp, deviceId } }
    const response = await gate.fetch(request, env)
    if (env.outcome) return { ...env.outcome, headers: wardHeaders(response) }
    if (!env.problem) throw new Error('unreachable: the gate decided nothing')
    return refusal(env.problem, response)
  }
}
