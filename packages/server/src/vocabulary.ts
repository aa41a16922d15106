// The words every layer shares: plain types and constant lists, no code, so any module may
// import them.

/** Every end reason, in the order the admin view lists them. */
export const END_REASONS = [
  'logout',
  'idle',
  'absolute',
  'revoked',
  'evicted',
  'user_agent_changed',
  'admin',
  'refresh_reuse',
  'idp_logout',
  'idp_revoked',
  'reported',
] as const

/** Why a session ended; the value of `end_reason`. */
export type EndReason = (typeof END_REASONS)[number]

/** How strictly a session is bound to the user agent it logged in with. */
export type UserAgentBinding = 'strict' | 'browser' | 'off'

/** What happens when a login would exceed `maxSessions`. */
export type OnLimit = 'evict-oldest' | 'deny'

/** The settings `policy(userId, c)` may override per user. Times in seconds. */
export interface SessionPolicy {
  warnAfter: number
  expireAfter: number
  maxAge: number
  maxSessions: number
  onLimit: OnLimit
}
