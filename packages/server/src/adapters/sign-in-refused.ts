import type { Refusal, WardProblem } from '../outside-hono.ts'

/**
 * A sign-in the ward refused (403 `origin_rejected`: a cross-site login; 403 `session_limit`):
 * what an adapter's `signIn` rejects with. `status` and `headers` are what Express's default
 * error handler reads; `refusal.response` is the ward's JSON answer.
 */
export class SignInRefused extends Error {
  readonly status: number
  readonly statusCode: number
  readonly expose = true
  readonly problem: WardProblem
  readonly headers: Record<string, string>
  readonly refusal: Refusal

  constructor(refusal: Refusal) {
    super(refusal.problem.message)
    this.name = 'SignInRefused'
    this.refusal = refusal
    this.problem = refusal.problem
    this.status = refusal.problem.status
    this.statusCode = refusal.problem.status
    this.headers = Object.fromEntries(refusal.headers)
  }
}
