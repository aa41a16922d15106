import type { EndReason, SessionPolicy } from './vocabulary.ts'

/** A session row as the library handles it. `tokenHash` never leaves the server package. */
export interface SessionRecord {
  id: string
  userId: string
  tokenHash: string
  createdAt: Date
  lastActivityAt: Date
  expiresAt: Date
  endedAt: Date | null
  endReason: EndReason | null
  ip: string | null
  lastIp: string | null
  userAgent: string
  detail: string | null
}

/**
 * A session row as read for the cache: the record, and the idle limit recorded for it (the policy
 * in force when it was last resolved; null for rows older than that column).
 */
export interface LoadedSession {
  record: SessionRecord
  expireAfter: number | null
}

/** What the host app and hooks see of a session: everything but the token hash. */
export type SessionInfo = Omit<SessionRecord, 'tokenHash'>

/**
 * Drops the token hash, so nothing derived from the token reaches app code, logs or JSON.
 *
 * @example
 * c.set('session', toSessionInfo(record))
 */
export function toSessionInfo(record: SessionRecord): SessionInfo {
  const { tokenHash: _tokenHash, ...info } = record
  return info
}

/**
 * When a session ends at the latest (ms). A maxAge shortened by policy after login applies at
 * once; a longer one never extends a session beyond the end it was given at login.
 *
 * @example
 * endsAt(session, policy) - Date.now() // ms left
 */
export function endsAt(
  record: Pick<SessionRecord, 'createdAt' | 'expiresAt'>,
  policy: Pick<SessionPolicy, 'maxAge'>,
): number {
  return Math.min(record.expiresAt.getTime(), record.createdAt.getTime() + policy.maxAge * 1000)
}

/**
 * Why a live session must end now, or null while it may go on. Absolute expiry wins over
 * idleness: it is the stricter, unconditional limit.
 *
 * @example
 * expiryReason(record, Date.now(), policy) // 'idle' | 'absolute' | null
 */
export function expiryReason(
  record: Pick<SessionRecord, 'createdAt' | 'lastActivityAt' | 'expiresAt'>,
  now: number,
  policy: Pick<SessionPolicy, 'expireAfter' | 'maxAge'>,
): 'absolute' | 'idle' | null {
  if (now >= endsAt(record, policy)) return 'absolute'
  if (now - record.lastActivityAt.getTime() >= policy.expireAfter * 1000) return 'idle'
  return null
}
