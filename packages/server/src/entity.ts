import { defineEntity, type InferEntity, p } from '@mikro-orm/core'

/**
 * One row per session, live or ended: the ended rows are the session log. The token itself is
 * never a column; only its SHA-256 is.
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
  },
  indexes: [
    {
      name: 'sessionward_session_live_user_idx',
      expression:
        'create index "sessionward_session_live_user_idx" on "sessionward_session" ("user_id") where "ended_at" is null',
    },
    { name: 'sessionward_session_ended_at_idx', properties: ['endedAt'] },
  ],
})

export type SessionRow = InferEntity<typeof SessionEntity>
