import type { Context, Env, ErrorHandler, Hono } from 'hono'
import { HTTPException } from 'hono/http-exception'
import {
  BODY_CUT_SHORT,
  INTERNAL,
  invalidRequest,
  methodNotAllowed,
  notFound,
  type Problem,
  ProblemError,
} from './problems.ts'
import { describeStoreError, StoreFailure } from './store.ts'

/** A problem's JSON body: `{"error","message"}` plus its extra fields. */
function problemBody(problem: Problem) {
  return { error: problem.error, message: problem.message, ...problem.extra }
}

/**
 * Answers a problem as JSON. A 401 carries `WWW-Authenticate` (RFC 6750), so clients know
 * which scheme to use.
 *
 * @example
 * return problemResponse(c, NO_TOKEN)
 */
export function problemResponse(c: Context, problem: Problem): Response {
  if (problem.status === 401) {
    c.header(
      'WWW-Authenticate',
      problem.invalidToken
        ? 'Bearer realm="sessionward", error="invalid_token"'
        : 'Bearer realm="sessionward"',
    )
  }
  if (problem.retryAfter !== undefined) c.header('Retry-After', String(problem.retryAfter))
  c.header('Cache-Control', 'no-store')
  return c.json(problemBody(problem), problem.status)
}

/**
 * Answers 400 `invalid_request` with `message`: input the client got wrong.
 *
 * @example
 * if ('message' in paged) return badRequest(c, paged.message)
 */
export function badRequest(c: Context, message: string): Response {
  return problemResponse(c, invalidRequest(message))
}

/**
 * A problem as a standalone JSON `Response` (no Hono context), with the headers
 * `problemResponse` sets but the 401 challenge.
 *
 * @example
 * new HTTPException(503, { res: problemAnswer(problem) })
 */
function problemAnswer(problem: Problem): Response {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'cache-control': 'no-store',
  }
  if (problem.retryAfter !== undefined) headers['retry-after'] = String(problem.retryAfter)
  return new Response(JSON.stringify(problemBody(problem)), { status: problem.status, headers })
}

/**
 * A problem as an HTTPException carrying its JSON answer, for what an app calls from its own
 * routes (`createSession`): Hono's default error handler answers it as is.
 *
 * @example
 * throw problemException(ORIGIN_REJECTED)
 */
export function problemException(problem: Problem): HTTPException {
  return new HTTPException(problem.status, {
    message: problem.message,
    res: problemAnswer(problem),
  })
}

/**
 * The session store could not serve: 503 `store_unavailable`, as the ward's API throws it to an
 * app. An HTTPException carrying its JSON answer, so even an app's own login route fails closed
 * and clearly. `retryable` when a retry may help (then the answer has `Retry-After`).
 */
export class StoreUnavailableError extends HTTPException {
  readonly retryable: boolean
  readonly problem: Problem
  constructor(failure: ProblemError) {
    super(failure.problem.status, {
      message: failure.problem.message,
      cause: failure,
      res: problemAnswer(failure.problem),
    })
    this.name = 'StoreUnavailableError'
    this.problem = failure.problem
    this.retryable = failure.problem.retryAfter !== undefined
  }
}

/**
 * Work from below the edge as an app receives it: a refusal becomes an HTTPException carrying
 * its JSON answer (Hono's error handler answers it as is), a store failure a
 * `StoreUnavailableError`; anything else is thrown as it is.
 *
 * @example
 * const page = await atEdge(core.liveSessions(userId, page))
 */
export async function atEdge<T>(work: Promise<T>): Promise<T> {
  try {
    return await work
  } catch (error) {
    if (!(error instanceof ProblemError)) throw error
    if (error.problem.error === 'store_unavailable') throw new StoreUnavailableError(error)
    throw problemException(error.problem)
  }
}

// The order methods are listed in an Allow header.
const METHOD_ORDER = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']

/**
 * Ends a ward mount with JSON answers for requests its routes do not match: 405
 * `method_not_allowed` with `Allow` for a known path, 404 `not_found` for any other path. They
 * are routes, registered after all others, because a mounted app's `notFound` is never called:
 * the host's (often an HTML page) would answer instead. The methods come from the routes
 * themselves, so a new route needs no table update.
 *
 * @example
 * app.get('/sessions', list)
 * answerUnmatched(app) // PUT /sessions → 405, Allow: GET, HEAD
 */
export function answerUnmatched<E extends Env>(app: Hono<E>): void {
  const allowed = new Map<string, Set<string>>()
  for (const { method, path } of app.routes) {
    // Middleware (`app.use`) is registered for every method: it allows nothing by itself.
    if (method === 'ALL') continue
    const methods = allowed.get(path) ?? new Set<string>()
    methods.add(method)
    // Hono answers HEAD with the GET route.
    if (method === 'GET') methods.add('HEAD')
    allowed.set(path, methods)
  }
  for (const [path, methods] of allowed) {
    const allow = METHOD_ORDER.filter((method) => methods.has(method)).join(', ')
    app.all(path, (c) => {
      c.header('Allow', allow)
      return problemResponse(c, methodNotAllowed(c.req.method, allow))
    })
  }
  app.all('*', (c) => problemResponse(c, notFound(`no route ${c.req.method} ${c.req.path}`)))
}

/**
 * Answers a request the client abandoned mid-way (an upload broken off), or returns null when
 * it was not abandoned. Anyone can cause one at will, and it is no fault of the server: it is
 * logged at debug (when the logger has it), one line without a stack, never as an error.
 *
 * @example
 * app.onError((error, c) => answerClientAbort(c, logger) ?? …)
 */
export function answerClientAbort(
  c: Context,
  logger: { debug?: (message: string) => void },
): Response | null {
  // @hono/node-server aborts the request's signal when its connection closes early.
  if (!c.req.raw.signal.aborted) return null
  // The route's pattern, not the path: a path is the client's text and could carry anything.
  logger.debug?.(`sessionward: client aborted ${c.req.method} ${c.req.routePath} before its end`)
  return problemResponse(c, BODY_CUT_SHORT)
}

/** Where a ward mount logs: errors, and client aborts at debug when it can. */
type MountLogger = { error(...data: unknown[]): void; debug?: (message: string) => void }

/**
 * Logs a store that could not serve, one line, its digests masked.
 *
 * @example
 * logStoreFailure(logger, error)
 */
export function logStoreFailure(logger: Pick<MountLogger, 'error'>, error: StoreFailure): void {
  logger.error(`sessionward: session store unavailable: ${describeStoreError(error)}`)
}

/**
 * The `onError` of a ward mount: a client abort is its 400; a refusal from below the edge is
 * answered by `refuse` (a store failure logged first); an HTTPException is its own response;
 * anything else is logged (`where` failed) and answered 500 JSON.
 *
 * @example
 * app.onError(mountErrors(logger, 'route'))
 */
export function mountErrors(
  logger: MountLogger,
  where: string,
  refuse: (c: Context, problem: Problem) => Response | Promise<Response> = problemResponse,
): ErrorHandler {
  return (error, c) => {
    const aborted = answerClientAbort(c, logger)
    if (aborted) return aborted
    if (error instanceof StoreFailure) logStoreFailure(logger, error)
    if (error instanceof ProblemError) return refuse(c, error.problem)
    if (error instanceof HTTPException) return error.getResponse()
    logger.error(`sessionward: ${where} failed: ${describeStoreError(error)}`)
    return c.json(problemBody(INTERNAL), INTERNAL.status)
  }
}

/** Thrown by `createWard` when an option is invalid; the message names the option. */
export class WardOptionsError extends Error {
  constructor(message: string) {
    super(`sessionward: ${message}`)
    this.name = 'WardOptionsError'
  }
}
