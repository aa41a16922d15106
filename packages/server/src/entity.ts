import { defineEntity, type InferEntity, p } from '@mikro-orm/core'

/**
 * One row per session, live or ended: the ended rows are the session log. The token itself is
 * never a column; only its SHA-256 is. The schema itself ships as migrations (`ward.migrate()`);
 * this mirrors it for hosts that share their ORM.
 *
 * @example
 * MikroORM.init({ entities: [SessionEntity], ... }) // when sharing the app's own ORM
 */
export const SessionEntity = defineEntity({
  name: 'SessionwardSession',
  tableName: 'sessionward_session',
  properties: {
    id: p.uuid().primary(),
    userId: p.text(),
    tokenHash: p.text().unique('sessionward_session_token_hash_unique'),
    createdAt: p.datetime(),
    lastActivityAt: p.datetime(),
    expiresAt: p.datetime(),
    endedAt: p.datetime().nullable(),
    endReason: p.text().nullable(),
    ip: p.text().nullable(),
    lastIp: p.text().nullable(),
    userAgent: p.text(),
    detail: p.text().nullable(),
    /** Hashes of the tokens this session had before `rotateOnRefresh` replaced them. */
    retiredTokenHashes: p.array().columnType('text[]').nullable(),
    /** When the token was last rotated: the previous one is accepted for `jwt.reuseInterval`. */
    tokenRotatedAt: p.datetime().nullable(),
    /** The idle limit (seconds) the session's policy gave it at login; null: the ward's own. */
    expireAfter: p.integer().nullable(),
    /** The identity provider the session came from (its issuer), its subject and session id. */
    idpIssuer: p.text().nullable(),
    idpSubject: p.text().nullable(),
    idpSessionId: p.text().nullable(),
    /** Until when a new device's session waits for approval (`newDevice.hold`); null: not held. */
    heldUntil: p.datetime().nullable(),
  },
  indexes: [
    {
      name: 'sessionward_session_live_user_created_idx',
      expression:
        'create index "sessionward_session_live_user_created_idx" on "sessionward_session" ("user_id", "created_at" desc, "id" desc) where "ended_at" is null',
    },
    {
      name: 'sessionward_session_ended_at_idx',
      expression:
        'create index "sessionward_session_ended_at_idx" on "sessionward_session" ("ended_at") where "ended_at" is not null',
    },
    {
      name: 'sessionward_session_held_idx',
      expression:
        'create index "sessionward_session_held_idx" on "sessionward_session" ("held_until") where "held_until" is not null and "ended_at" is null',
    },
    {
      name: 'sessionward_session_user_log_idx',
      expression:
        'create index "sessionward_session_user_log_idx" on "sessionward_session" ("user_id", "ended_at" desc, "id" desc) where "ended_at" is not null',
    },
    {
      name: 'sessionward_session_created_idx',
      expression:
        'create index "sessionward_session_created_idx" on "sessionward_session" ("created_at" desc, "id" desc)',
    },
    {
      name: 'sessionward_session_user_created_idx',
      expression:
        'create index "sessionward_session_user_created_idx" on "sessionward_session" ("user_id", "created_at" desc, "id" desc)',
    },
    {
      // The sweep's: live sessions by when their own limits can first end them (the function
      // is created by the migration that creates this index).
      name: 'sessionward_session_due_idx',
      expression:
        'create index "sessionward_session_due_idx" on "sessionward_session" (sessionward_due_at("expires_at", "last_activity_at", "expire_after"), "id") where "ended_at" is null',
    },
    {
      name: 'sessionward_session_reason_created_idx',
      expression:
        'create index "sessionward_session_reason_created_idx" on "sessionward_session" ("end_reason", "created_at" desc, "id" desc) where "end_reason" is not null',
    },
    {
      name: 'sessionward_session_retired_idx',
      expression:
        'create index "sessionward_session_retired_idx" on "sessionward_session" using gin ("retired_token_hashes") where "retired_token_hashes" is not null',
    },
    {
      name: 'sessionward_session_idp_idx',
      expression:
        'create index "sessionward_session_idp_idx" on "sessionward_session" ("idp_issuer", "idp_subject") where "ended_at" is null and "idp_issuer" is not null',
    },
    {
      name: 'sessionward_session_idp_sid_idx',
      expression:
        'create index "sessionward_session_idp_sid_idx" on "sessionward_session" ("idp_issuer", "idp_session_id") where "ended_at" is null and "idp_session_id" is not null',
    },
  ],
})

export type SessionRow = InferEntity<typeof SessionEntity>
