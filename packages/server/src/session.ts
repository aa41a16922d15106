import type { EndReason } from './vocabulary.ts'

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

/** What `createSession` gives the app's login route. */
export interface CreatedSession {
  /** The token to hand to the client. Shown once: only its hash is stored. */
  token: string
  session: SessionInfo
  /** Ids of the sessions this login evicted to stay within `maxSessions`. */
  evicted: string[]
}
