import type { MikroORM } from '@mikro-orm/core'
import type { EntityManager } from '@mikro-orm/sql'
import { HTTPException } from 'hono/http-exception'
import type { EndReason } from './options.ts'
import type { SessionInfo, SessionRecord } from './session.ts'

// Every statement the library sends is here, in plain SQL that PostgreSQL and PGlite share.
// Each call runs on its own fork of the EntityManager: never the global one.

const COLUMNS =
  'id, user_id, token_hash, created_at, last_activity_at, expires_at, ended_at, end_reason, ip, last_ip, user_agent, detail'

/** A row as the driver returns it. */
export type Row = Record<string, unknown>

/**
 * A timestamp column as a Date, whichever form the driver returns it in.
 *
 * @example
 * toDate(row.created_at)
 */
export function toDate(value: unknown): Date {
  return value instanceof Date ? value : new Date(String(value))
}

/**
 * A selected row as `SessionInfo`; the token hash is neither read nor needed.
 *
 * @example
 * rows.map(toSessionInfoRow)
 */
export function toSessionInfoRow(row: Row): SessionInfo {
  return {
    id: String(row.id),
    userId: String(row.user_id),
    createdAt: toDate(row.created_at),
    lastActivityAt: toDate(row.last_activity_at),
    expiresAt: toDate(row.expires_at),
    endedAt: row.ended_at == null ? null : toDate(row.ended_at),
    endReason: (row.end_reason as EndReason | null) ?? null,
    ip: (row.ip as string | null) ?? null,
    lastIp: (row.last_ip as string | null) ?? null,
    userAgent: String(row.user_agent),
    detail: (row.detail as string | null) ?? null,
  }
}

function toRecord(row: Row): SessionRecord {
  return { ...toSessionInfoRow(row), tokenHash: String(row.token_hash) }
}

/**
 * A fresh EntityManager for one unit of work.
 *
 * @example
 * await findById(fork(orm), id)
 */
export function fork(orm: MikroORM): EntityManager {
  return orm.em.fork() as EntityManager
}

/**
 * The database failed or could not be reached. An HTTPException carrying its 503
 * `store_unavailable` JSON answer, so even an app's own login route fails closed and clearly.
 */
export class StoreUnavailableError extends HTTPException {
  constructor(cause: unknown) {
    const body = {
      error: 'store_unavailable',
      message: 'the session store is unavailable; try again shortly',
    }
    super(503, {
      message: body.message,
      cause,
      res: new Response(JSON.stringify(body), {
        status: 503,
        headers: { 'content-type': 'application/json', 'retry-after': '5' },
      }),
    })
    this.name = 'StoreUnavailableError'
  }
}

/**
 * A database error as it may be logged: driver messages can quote the statement with its
 * parameters, so hex digests (token hashes) are masked.
 *
 * @example
 * logger.error('sessionward: store failed', describeStoreError(error))
 */
export function describeStoreError(error: unknown): string {
  const cause = error instanceof StoreUnavailableError ? error.cause : error
  const message = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause)
  return message.replace(/[0-9a-f]{64}/gi, '[hash]')
}

/**
 * Runs one statement; any failure to reach or use the database is a StoreUnavailableError.
 *
 * @example
 * const rows = await query(fork(orm), 'select 1 as one', [])
 */
export async function query(runner: EntityManager, sql: string, params: unknown[]): Promise<Row[]> {
  try {
    return await runner.execute<Row[]>(sql, params, 'all')
  } catch (error) {
    throw new StoreUnavailableError(error)
  }
}

/**
 * Stores a new session row.
 *
 * @example
 * await insertSession(fork(orm), record, policy.expireAfter)
 */
export async function insertSession(
  runner: EntityManager,
  record: SessionRecord,
  expireAfter: number,
): Promise<void> {
  await query(
    runner,
    `insert into sessionward_session (${COLUMNS}, expire_after)
      values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    [
      record.id,
      record.userId,
      record.tokenHash,
      record.createdAt,
      record.lastActivityAt,
      record.expiresAt,
      record.endedAt,
      record.endReason,
      record.ip,
      record.lastIp,
      record.userAgent,
      record.detail,
      expireAfter,
    ],
  )
}

/**
 * The session whose token has this hash, live or ended, or null.
 *
 * @example
 * await findByTokenHash(fork(orm), hashToken(token))
 */
export async function findByTokenHash(
  runner: EntityManager,
  tokenHash: string,
): Promise<SessionRecord | null> {
  const rows = await query(
    runner,
    `select ${COLUMNS} from sessionward_session where token_hash = ?`,
    [tokenHash],
  )
  return rows[0] ? toRecord(rows[0]) : null
}

/**
 * One session by id, or null.
 *
 * @example
 * await findById(fork(orm), id)
 */
export async function findById(runner: EntityManager, id: string): Promise<SessionRecord | null> {
  const rows = await query(runner, `select ${COLUMNS} from sessionward_session where id = ?`, [id])
  return rows[0] ? toRecord(rows[0]) : null
}

/**
 * Records activity, and the user agent when one was adopted since the last write (null keeps
 * the stored one). Never moves last activity backwards, whatever order writes land in.
 *
 * @example
 * await writeActivity(fork(orm), id, new Date(), '203.0.113.7', null)
 */
export async function writeActivity(
  runner: EntityManager,
  id: string,
  lastActivityAt: Date,
  lastIp: string | null,
  userAgent: string | null,
): Promise<void> {
  await query(
    runner,
    `update sessionward_session
        set last_activity_at = greatest(last_activity_at, ?), last_ip = coalesce(?, last_ip),
            user_agent = coalesce(?, user_agent)
      where id = ? and ended_at is null`,
    [lastActivityAt, lastIp, userAgent, id],
  )
}

/**
 * Which live sessions `endSessions` ends. `activeBefore` spares a session whose row shows
 * activity since (written by another instance after it was chosen).
 */
export type EndTarget =
  | { ids: string[]; userId?: string; activeBefore?: Date }
  | { userId: string; exceptId?: string }

/**
 * Ends live sessions and returns the rows it ended. The `ended_at is null` condition makes
 * ending idempotent: of two racing callers only one gets the row back, so hooks fire once.
 *
 * @example
 * await endSessions(fork(orm), { ids: [id] }, 'logout', new Date())
 */
export async function endSessions(
  runner: EntityManager,
  target: EndTarget,
  reason: EndReason,
  endedAt: Date,
  detail: string | null = null,
): Promise<SessionRecord[]> {
  let where: string
  let params: unknown[]
  if ('ids' in target) {
    if (target.ids.length === 0) return []
    where = `id in (${target.ids.map(() => '?').join(', ')})`
    params = target.ids
    if (target.userId !== undefined) {
      where += ' and user_id = ?'
      params = [...params, target.userId]
    }
    if (target.activeBefore !== undefined) {
      where += ' and last_activity_at < ?'
      params = [...params, target.activeBefore]
    }
  } else if (target.exceptId) {
    where = 'user_id = ? and id <> ?'
    params = [target.userId, target.exceptId]
  } else {
    where = 'user_id = ?'
    params = [target.userId]
  }
  const rows = await query(
    runner,
    `update sessionward_session set ended_at = ?, end_reason = ?, detail = coalesce(?, detail)
      where ${where} and ended_at is null
      returning ${COLUMNS}`,
    [endedAt, reason, detail, ...params],
  )
  return rows.map(toRecord)
}

/** What SQL needs to tell an expired session: the time, and the idle limit rows may lack. */
export interface Expiry {
  now: Date
  /** The ward's expireAfter (s), for rows stored without their own. */
  expireAfter: number
  /** Seconds a row's activity may lag what some instance has seen (touchInterval). */
  margin: number
}

/**
 * The SQL condition (with its parameters) that a not-ended row is past its absolute end, or
 * idle past its expireAfter plus `margin` by what its row says.
 *
 * @example
 * const [condition, params] = expiredCondition(expiry)
 */
export function expiredCondition(expiry: Expiry): [string, unknown[]] {
  return [
    `(expires_at <= ? or last_activity_at + (coalesce(expire_after, ?) + ?) * interval '1 second' <= ?)`,
    [expiry.now, expiry.expireAfter, expiry.margin, expiry.now],
  ]
}

/**
 * Up to `limit` sessions not ended but expired by their rows (see `expiredCondition`), for the
 * background sweep to end.
 *
 * @example
 * await listExpired(fork(orm), { now: new Date(), expireAfter: 900, margin: 60 }, 500)
 */
export async function listExpired(
  runner: EntityManager,
  expiry: Expiry,
  limit: number,
): Promise<{ record: SessionRecord; expireAfter: number | null }[]> {
  const [condition, params] = expiredCondition(expiry)
  const rows = await query(
    runner,
    `select ${COLUMNS}, expire_after from sessionward_session
      where ended_at is null and ${condition}
      limit ?`,
    [...params, limit],
  )
  return rows.map((row) => ({
    record: toRecord(row),
    expireAfter: row.expire_after == null ? null : Number(row.expire_after),
  }))
}

/**
 * A user's live sessions, most recently active first.
 *
 * @example
 * await listLive(fork(orm), 'alice')
 */
export async function listLive(runner: EntityManager, userId: string): Promise<SessionRecord[]> {
  const rows = await query(
    runner,
    `select ${COLUMNS} from sessionward_session
      where user_id = ? and ended_at is null
      order by last_activity_at desc, id`,
    [userId],
  )
  return rows.map(toRecord)
}

/**
 * A user's ended sessions, most recently ended first.
 *
 * @example
 * await listEnded(fork(orm), 'alice', 20)
 */
export async function listEnded(
  runner: EntityManager,
  userId: string,
  limit: number,
): Promise<SessionRecord[]> {
  const rows = await query(
    runner,
    `select ${COLUMNS} from sessionward_session
      where user_id = ? and ended_at is not null
      order by ended_at desc, id
      limit ?`,
    [userId, limit],
  )
  return rows.map(toRecord)
}

/**
 * Deletes a user's ended sessions beyond the `keep` most recent (the session log's limit).
 * Never touches a live session.
 *
 * @example
 * await pruneLog(fork(orm), 'alice', 20)
 */
export async function pruneLog(
  runner: EntityManager,
  userId: string,
  keep: number,
): Promise<number> {
  const rows = await query(
    runner,
    `delete from sessionward_session
      where id in (
        select id from sessionward_session
         where user_id = ? and ended_at is not null
         order by ended_at desc, id
         offset ?
      )
      returning id`,
    [userId, keep],
  )
  return rows.length
}

/**
 * Serializes logins of one user until the transaction ends, so counting live sessions and
 * inserting a new one cannot interleave with another login of the same user.
 *
 * @example
 * await fork(orm).transactional(async (tx) => { await lockUser(tx, userId); ... })
 */
export async function lockUser(runner: EntityManager, userId: string): Promise<void> {
  await query(runner, "select pg_advisory_xact_lock(hashtextextended('sessionward:' || ?, 0))", [
    userId,
  ])
}
