import type { EndReason } from './vocabulary.ts'

/**
 * The identity provider's session a session was started from: the provider's issuer, the user's
 * subject there, and the provider's session id (`sid`) when it gave one. A back-channel logout
 * or a Shared Signals event from that provider ends the sessions it names.
 */
export interface IdpLink {
  issuer: string
  sub: string
  sid: string | null
}

/**
 * The sessions an identity provider's message names, among those linked to it: every session of
 * the subject `sub`, the sessions of the provider's session `sid`, or (both given) those of both.
 */
export interface IdpSessions {
  issuer: string
  sub?: string
  sid?: string
}

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
  /** The identity provider's session it came from; null for a session the app started itself. */
  idp: IdpLink | null
}

/**
 * A session row as read for the cache: the record, and the idle limit recorded for it (the policy
 * in force when it was last resolved; null for rows older than that column).
 */
export interface LoadedSession {
  record: SessionRecord
  expireAfter: number | null
  /**
   * Until when a new device's session waits for approval (ms; `newDevice.hold`), null when it
   * is not held. Read only where a request's session is looked up.
   */
  heldUntil?: number | null
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
