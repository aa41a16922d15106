import type { EndReason } from './vocabulary.ts'

// Every answer value the library refuses with, in one place and free of HTTP machinery: the
// edge (errors.ts, the Hono layer and the adapters) turns them into responses.

/** Every error code the library answers with. */
export type ErrorCode =
  | 'invalid_request'
  | 'unauthenticated'
  | 'session_ended'
  | 'session_limit'
  | 'origin_rejected'
  | 'not_found'
  | 'method_not_allowed'
  | 'forbidden'
  | 'store_unavailable'
  | 'too_many_requests'
  | 'report_link_invalid'
  | 'session_held'
  | 'internal'

/** The statuses the library answers errors with. */
export type ProblemStatus = 400 | 401 | 403 | 404 | 405 | 429 | 500 | 503

/** An error answer: `{"error","message"}` plus any extra fields (such as `reason`). */
export interface Problem {
  status: ProblemStatus
  error: ErrorCode
  message: string
  extra?: Record<string, string>
  /** A token was sent but is not valid: the 401 challenge says `invalid_token`. */
  invalidToken?: boolean
  /** Seconds after which a retry may succeed (`Retry-After`): a store that cannot serve now, a throttled client. */
  retryAfter?: number
}

/** Seconds a client is told to wait (`Retry-After`) when the store cannot serve right now. */
export const STORE_RETRY_AFTER = 5

export const NO_TOKEN: Problem = {
  status: 401,
  error: 'unauthenticated',
  message: 'no session token: send Authorization: Bearer <token> or the session cookie',
}

export const MALFORMED_AUTHORIZATION: Problem = {
  status: 401,
  error: 'unauthenticated',
  message: 'the Authorization header must be "Bearer <token>" or "Token <token>"',
  invalidToken: true,
}

/** The unknown-token answer; the same whatever the token, so it reveals nothing. */
export const UNKNOWN_TOKEN: Problem = {
  status: 401,
  error: 'unauthenticated',
  message: 'unknown or malformed session token',
  invalidToken: true,
}

export const INVALID_ACCESS_TOKEN: Problem = {
  status: 401,
  error: 'unauthenticated',
  message: 'invalid access token',
  invalidToken: true,
}

export const EXPIRED_ACCESS_TOKEN: Problem = {
  status: 401,
  error: 'unauthenticated',
  message: 'the access token has expired; get a new one from POST /session/token',
  invalidToken: true,
}

// The 404s of a route: what the caller names is none of theirs, or the option it needs is off.
/** Revoke, report. */
export const NO_SUCH_SESSION = notFound('no live session with this id among yours')
/** Approve; also a hold that lapsed. */
export const NO_SUCH_HELD_SESSION = notFound(
  'no session with this id among yours waits for approval',
)
export const NO_SUCH_DEVICE = notFound('no known device with this id among yours')
export const NO_SUCH_ADMIN_SESSION = notFound('no session with this id')
export const DEVICES_OFF = notFound('known devices are off: set the newDevice option of createWard')
export const ACCESS_TOKENS_OFF = notFound(
  'JWT access tokens are off: set the jwt option of createWard',
)

/** `POST /session/token` with an access token: only the session token buys one. */
export const SESSION_TOKEN_REQUIRED: Problem = {
  status: 401,
  error: 'unauthenticated',
  message: 'POST /session/token needs the session token, not an access token',
  invalidToken: true,
}

export const ADMIN_UNAUTHENTICATED: Problem = {
  status: 401,
  error: 'unauthenticated',
  message: 'sign in to use the admin view',
}

/** The admin view for a signed-in caller that `authorize(c)` does not allow. */
export const ADMIN_FORBIDDEN: Problem = {
  status: 403,
  error: 'forbidden',
  message: 'this account may not use the admin view',
}

export const BODY_CUT_SHORT = invalidRequest('the request ended before its body was complete')

/** Something the ward did not expect threw: a bug, logged, never an answer to bad input. */
export const INTERNAL: Problem = {
  status: 500,
  error: 'internal',
  message: 'unexpected server error',
}

/**
 * A new device's session held until approved (`newDevice.hold`): only its own ping, events and
 * logout answer until another of the user's sessions (or the mailed link) approves it.
 */
export const SESSION_HELD: Problem = {
  status: 403,
  error: 'session_held',
  message:
    'this sign-in from a new device waits for approval from another of your signed-in devices',
}

export const ORIGIN_REJECTED: Problem = {
  status: 403,
  error: 'origin_rejected',
  message: 'cookie-authenticated requests that change state must come from the app’s own origin',
}

export const LOGIN_ORIGIN_REJECTED: Problem = {
  status: 403,
  error: 'origin_rejected',
  message: 'a sign-in that sets the session cookie must come from the app’s own origin',
}

/**
 * The 401 `session_ended` answer for a session that ended with `reason` (none known: revoked).
 *
 * @example
 * sessionEnded('idle') // { status: 401, error: 'session_ended', extra: { reason: 'idle' }, … }
 */
export function sessionEnded(reason: EndReason | null): Problem {
  const known = reason ?? 'revoked'
  return {
    status: 401,
    error: 'session_ended',
    message: `the session has ended (${known})`,
    extra: { reason: known },
    invalidToken: true,
  }
}

/**
 * The 403 for a sign-in over `maxSessions` with onLimit `deny`.
 *
 * @example
 * sessionLimit(3)
 */
export function sessionLimit(maxSessions: number): Problem {
  return {
    status: 403,
    error: 'session_limit',
    message: `this account already has ${maxSessions} active session${maxSessions === 1 ? '' : 's'}; sign out elsewhere first`,
  }
}

/**
 * The 503 of a store that cannot serve: with Retry-After when a retry may help (unreachable,
 * timed out); without, when a statement needs the operator (migrations not applied).
 *
 * @example
 * storeUnavailable(true)
 */
export function storeUnavailable(retryable: boolean): Problem {
  return {
    status: 503,
    error: 'store_unavailable',
    message: retryable
      ? 'the session store is unavailable; try again shortly'
      : 'the session store could not run a statement; the server needs attention',
    ...(retryable ? { retryAfter: STORE_RETRY_AFTER } : {}),
  }
}

/**
 * The 400 for input the client got wrong.
 *
 * @example
 * invalidRequest('idleFor must be a finite number of seconds')
 */
export function invalidRequest(message: string): Problem {
  return { status: 400, error: 'invalid_request', message }
}

/**
 * The 400 for a body over a route's limit.
 *
 * @example
 * bodyTooLarge(1024) // the body must be at most 1024 bytes
 */
export function bodyTooLarge(maxBytes: number): Problem {
  return invalidRequest(`the body must be at most ${maxBytes} bytes`)
}

/**
 * The 404 for what is not here: an unknown path, a file not built; `message` says which.
 *
 * @example
 * notFound('this client has no extras file')
 */
export function notFound(message: string): Problem {
  return { status: 404, error: 'not_found', message }
}

/**
 * The 405 for a known path asked with a method it does not take; `allow` lists those it does.
 *
 * @example
 * methodNotAllowed('PUT', 'GET, HEAD')
 */
export function methodNotAllowed(method: string, allow: string): Problem {
  return {
    status: 405,
    error: 'method_not_allowed',
    message: `${method} is not allowed here; use ${allow}`,
  }
}

/**
 * The 429 for a client that sent too many unknown tokens; no lookup was made.
 *
 * @example
 * tooManyGuesses(42)
 */
export function tooManyGuesses(seconds: number): Problem {
  return {
    status: 429,
    error: 'too_many_requests',
    message: `too many requests with unknown session tokens from this address; retry after ${seconds} s`,
    retryAfter: seconds,
  }
}

/**
 * The 429 for an address that sent too many invalid identity-provider tokens; nothing was checked.
 *
 * @example
 * tooManyInvalidIdpTokens(42)
 */
export function tooManyInvalidIdpTokens(seconds: number): Problem {
  return {
    status: 429,
    error: 'too_many_requests',
    message: `too many invalid logout tokens or security events from this address; retry after ${seconds} s`,
    retryAfter: seconds,
  }
}

/**
 * The 429 for a sign-in over a limit: one message for the account and the address (no hint).
 *
 * @example
 * tooManySignIns(42)
 */
export function tooManySignIns(seconds: number): Problem {
  return {
    status: 429,
    error: 'too_many_requests',
    message: `too many failed sign-ins; try again in ${seconds} s`,
    retryAfter: seconds,
  }
}

/**
 * A refusal raised below the edge, carrying its answer: the edge turns it into a response (an
 * HTTPException for what an app calls from its own routes).
 */
export class ProblemError extends Error {
  readonly problem: Problem
  constructor(problem: Problem, cause?: unknown) {
    super(problem.message, { cause })
    this.name = 'ProblemError'
    this.problem = problem
  }
}

/** Why a report link cannot be used, in the words of its refusal. */
const REPORT_REFUSALS = {
  unknown: 'this report link is not valid (mistyped, cut short or made up)',
  used: 'this report link was used already: the session it names has ended',
  expired: 'this report link has expired; sign in and end the session from your devices list',
} as const

/**
 * A report link refused: unknown (or tampered), used or expired; 400 `report_link_invalid`.
 *
 * @example
 * reportLinkInvalid('expired')
 */
export function reportLinkInvalid(why: keyof typeof REPORT_REFUSALS): Problem {
  return { status: 400, error: 'report_link_invalid', message: REPORT_REFUSALS[why] }
}
