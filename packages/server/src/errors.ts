import type { Context } from 'hono'
import type { ContentfulStatusCode } from 'hono/utils/http-status'

/** Every error code the library answers with. */
export type ErrorCode =
  | 'invalid_request'
  | 'unauthenticated'
  | 'session_ended'
  | 'session_limit'
  | 'origin_rejected'
  | 'not_found'
  | 'forbidden'
  | 'store_unavailable'

/** An error answer: `{"error","message"}` plus any extra fields (such as `reason`). */
export interface Problem {
  status: ContentfulStatusCode
  error: ErrorCode
  message: string
  extra?: Record<string, string>
  /** A token was sent but is not valid: the 401 challenge says `invalid_token`. */
  invalidToken?: boolean
}

/**
 * Answers a problem as JSON. A 401 carries `WWW-Authenticate` (RFC 6750), so clients know
 * which scheme to use.
 *
 * @example
 * return problemResponse(c, { status: 401, error: 'unauthenticated', message: 'no session token' })
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
  c.header('Cache-Control', 'no-store')
  return c.json(
    { error: problem.error, message: problem.message, ...problem.extra },
    problem.status,
  )
}
