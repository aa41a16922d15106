import type { EndReason, SessionPolicy } from './options.ts'

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
 * Why a live session must end now, or null while it may go on. Absolute expiry wins over
 * idleness: it is the stricter, unconditional limit.
 *
 * @example
 * expiryReason(record, Date.now(), policy) // 'idle' | 'absolute' | null
 */
export function expiryReason(
  record: Pick<SessionRecord, 'lastActivityAt' | 'expiresAt'>,
  now: number,
  policy: Pick<SessionPolicy, 'expireAfter'>,
): 'absolute' | 'idle' | null {
  if (now >= record.expiresAt.getTime()) return 'absolute'
  if (now - record.lastActivityAt.getTime() >= policy.expireAfter * 1000) return 'idle'
  return null
}
