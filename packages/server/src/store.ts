import type { Configuration, MikroORM } from '@mikro-orm/core'
import type { EntityManager } from '@mikro-orm/sql'
import { HTTPException } from 'hono/http-exception'
import { type Problem, problemAnswer } from './errors.ts'
import type { Cursor, PageRequest } from './paging.ts'
import type { SessionInfo, SessionRecord } from './session.ts'
import type { EndReason } from './vocabulary.ts'

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

/** Seconds a client is told to wait (`Retry-After`) when the store cannot serve right now. */
export const STORE_RETRY_AFTER = 5

/**
 * The database failed or could not be reached. An HTTPException carrying its 503
 * `store_unavailable` JSON answer, so even an app's own login route fails closed and clearly.
 * `Retry-After` only when retrying may help (unreachable, timed out, overloaded): a statement
 * the store cannot run (a missing table: migrations not applied) needs the operator, not a retry.
 */
export class StoreUnavailableError extends HTTPException {
  readonly retryable: boolean
  constructor(cause: unknown, retryable = true) {
    const problem = storeProblem(retryable)
    super(503, { message: problem.message, cause, res: problemAnswer(problem) })
    this.name = 'StoreUnavailableError'
    this.retryable = retryable
  }

  /** The same answer as a `Problem`, for middleware that answers with `problemResponse`. */
  get problem(): Problem {
    return storeProblem(this.retryable)
  }
}

// Unreachable or timed out: a retry may succeed. Anything else needs the operator.
function storeProblem(retryable: boolean): Problem {
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
 * The store refused a value the client sent (bad text, a conflict): a 400 `invalid_request`.
 * An HTTPException carrying its answer; it is the client's mistake, so it is never logged as a
 * store failure.
 */
export class StoreInputError extends HTTPException {
  constructor(message: string, cause?: unknown) {
    const res = problemAnswer({ status: 400, error: 'invalid_request', message })
    super(400, { message, cause, res })
    this.name = 'StoreInputError'
  }
}

// Node's own error codes (ECONNREFUSED, EPIPE) start with E; no SQLSTATE class does.
const SQLSTATE = /^(?!E)[0-9A-Z]{5}$/
// SQLSTATE classes of a store that cannot serve right now: connection (08), rollback by
// serialization or deadlock (40), insufficient resources (53), lock not available (55),
// operator intervention: statement timeout, shutdown (57), system error (58).
const TRANSIENT_CLASSES = new Set(['08', '40', '53', '55', '57', '58'])
const INPUT_MESSAGES: Record<string, string> = {
  '22001': 'a value in the request is too long',
  '22021': 'a value in the request has bytes the session store cannot hold',
  '22P02': 'a value in the request is not in the expected format',
  '22P05': 'a value in the request has characters the session store cannot hold',
}

/**
 * What a failed store call answers. No SQLSTATE (unreachable, pool timeout, closed) or a
 * transient class: 503 with Retry-After. Data exceptions (22) and integrity violations (23)
 * come from what the client sent: 400. Any other SQLSTATE is a statement the store cannot run:
 * 503 without Retry-After, logged by whoever answers it.
 *
 * @example
 * storeError(error) // StoreInputError for 22P02, StoreUnavailableError for ECONNREFUSED
 */
export function storeError(error: unknown): HTTPException {
  if (error instanceof HTTPException) return error
  const code = (error as { code?: unknown } | null)?.code
  if (typeof code !== 'string' || !SQLSTATE.test(code)) return new StoreUnavailableError(error)
  const sqlClass = code.slice(0, 2)
  if (sqlClass === '22') {
    const message =
      INPUT_MESSAGES[code] ?? 'a value in the request is not valid for the session store'
    return new StoreInputError(message, error)
  }
  if (sqlClass === '23') return new StoreInputError('the request conflicts with stored data', error)
  return new StoreUnavailableError(error, TRANSIENT_CLASSES.has(sqlClass))
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

// The bound (ms) on every call through `query()` and `transaction()`, per MikroORM instance
// (its forks share its Configuration). Unset: unbounded (an ORM no ward runs on).
const storeBounds = new WeakMap<Configuration, number>()
// The deadline (performance.now() ms) of a transaction, for each statement run inside it.
const deadlines = new WeakMap<EntityManager, number>()

/**
 * Bounds every store call the ward makes on this ORM to `seconds` (`storeTimeout`): past it,
 * the call fails as a retryable 503. One bound per ORM: the last ward created on it sets it.
 *
 * @example
 * boundStoreCalls(orm, 5)
 */
export function boundStoreCalls(orm: MikroORM, seconds: number): void {
  storeBounds.set(orm.config, seconds * 1000)
}

/** The store took longer than its bound: a 503 with Retry-After, like an unreachable store. */
function storeTimedOut(bound: number): StoreUnavailableError {
  const cause = new Error(`no answer within storeTimeout (${bound / 1000} s)`)
  cause.name = 'StoreTimeoutError'
  return new StoreUnavailableError(cause)
}

/**
 * `work`, or a `storeTimedOut` rejection once `ms` pass first. The last resort for a stalled
 * socket: the statement itself is cancelled by statement_timeout where the store can.
 */
function withinBound<T>(work: Promise<T>, ms: number, bound: number): Promise<T> {
  if (ms <= 0) {
    // Never sent: its outcome no longer matters (a rejection must not go unhandled).
    work.catch(() => undefined)
    return Promise.reject(storeTimedOut(bound))
  }
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(storeTimedOut(bound)), ms)
  })
  return Promise.race([work, late]).finally(() => clearTimeout(timer))
}

/**
 * Runs one statement within the store bound (a transaction's statements within what is left
 * of its own); a failure is answered as `storeError` classifies it (400 for input the store
 * refuses, 503 for a store that cannot serve or did not answer in time).
 *
 * @example
 * const rows = await query(fork(orm), 'select 1 as one', [])
 */
export async function query(runner: EntityManager, sql: string, params: unknown[]): Promise<Row[]> {
  // PostgreSQL text cannot hold NUL, and the wire protocol breaks on one (08P01, which would
  // read as a lost connection): refused before it is sent.
  if (params.some((param) => typeof param === 'string' && param.includes('\0'))) {
    throw new StoreInputError('a value in the request contains a NUL byte, which cannot be stored')
  }
  const bound = storeBounds.get(runner.config)
  const deadline = deadlines.get(runner)
  // A transaction past its deadline sends nothing more: the throw rolls it back.
  if (bound !== undefined && deadline !== undefined && performance.now() >= deadline) {
    throw storeTimedOut(bound)
  }
  try {
    const rows = runner.execute<Row[]>(sql, params, 'all')
    if (bound === undefined) return await rows
    return await withinBound(
      rows,
      (deadline ?? performance.now() + bound) - performance.now(),
      bound,
    )
  } catch (error) {
    throw storeError(error)
  }
}

/**
 * Runs a unit of work in one transaction, bounded as a whole by the store bound: PostgreSQL
 * cancels a statement that outlasts it (`SET LOCAL statement_timeout`), a stalled connection
 * gives up at a timer, and work past the deadline rolls back rather than commits. A failure is
 * answered as `storeError` says.
 *
 * @example
 * await transaction(orm, async (tx) => { await lockUser(tx, userId); ... })
 */
export async function transaction<T>(
  orm: MikroORM,
  work: (tx: EntityManager) => Promise<T>,
): Promise<T> {
  const bound = storeBounds.get(orm.config)
  // From the call, not from BEGIN: a BEGIN that stalls must not restart the clock.
  const deadline = performance.now() + (bound ?? 0)
  const run = fork(orm).transactional(async (em) => {
    const tx = em as EntityManager
    if (bound === undefined) return work(tx)
    deadlines.set(tx, deadline)
    await query(tx, `set local statement_timeout = ${Math.ceil(bound)}`, [])
    const result = await work(tx)
    // Answered 503 meanwhile (the timer won): nothing of it may land after all.
    if (performance.now() >= deadline) throw storeTimedOut(bound)
    return result
  })
  try {
    return await (bound === undefined ? run : withinBound(run, bound, bound))
  } catch (error) {
    throw storeError(error)
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
  | { tokenHash: string }

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
  if ('tokenHash' in target) {
    where = 'token_hash = ?'
    params = [target.tokenHash]
  } else if ('ids' in target) {
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
 * The select expression of a timestamp column in whole microseconds since the epoch, as text:
 * a cursor's `atUs`, exact where a JS Date would round to milliseconds.
 *
 * @example
 * `select id, ${microseconds('created_at')} as sort_us from sessionward_session`
 */
export function microseconds(column: string): string {
  return `(extract(epoch from ${column}) * 1000000)::bigint::text`
}

/**
 * The keyset condition for a list in `order by <column> desc, id desc`: rows after the cursor.
 * A row comparison, so an index on `(…, <column> desc, id desc)` starts right after it (no
 * OFFSET: rows added while someone pages never shift the others).
 *
 * @example
 * const [condition, params] = afterCursor('created_at', cursor)
 */
export function afterCursor(column: string, cursor: Cursor): [string, unknown[]] {
  return [
    `(${column}, id) < ('epoch'::timestamptz + ?::bigint * interval '1 microsecond', ?::uuid)`,
    [cursor.atUs, cursor.id],
  ]
}

/** One page of rows, and where the next one starts (null on the last page). */
export interface Page<T> {
  rows: T[]
  next: Cursor | null
}

/** Rows read with `limit + 1` (and a `sort_us` column) as one page of `limit`. */
function toPage<T>(rows: Row[], limit: number, map: (row: Row) => T): Page<T> {
  const shown = rows.slice(0, limit)
  const last = shown.at(-1)
  return {
    rows: shown.map(map),
    next: rows.length > limit && last ? { atUs: String(last.sort_us), id: String(last.id) } : null,
  }
}

/**
 * One page of a user's live sessions that are not expired (see `expiredCondition`), newest
 * login first, ties by id. Login time never changes, so paging is stable while the sessions
 * are used: each one shows up exactly once.
 *
 * @example
 * await listLivePage(fork(orm), 'alice', expiry, { limit: 50 })
 */
export async function listLivePage(
  runner: EntityManager,
  userId: string,
  expiry: Expiry,
  page: PageRequest,
): Promise<Page<SessionRecord>> {
  const [expired, expiredParams] = expiredCondition(expiry)
  const [after, afterParams] = page.cursor ? afterCursor('created_at', page.cursor) : ['true', []]
  const rows = await query(
    runner,
    `select ${COLUMNS}, ${microseconds('created_at')} as sort_us from sessionward_session
      where user_id = ? and ended_at is null and not ${expired} and ${after}
      order by created_at desc, id desc
      limit ?`,
    [userId, ...expiredParams, ...afterParams, page.limit + 1],
  )
  return toPage(rows, page.limit, toRecord)
}

/**
 * One page of a user's ended sessions, most recently ended first, ties by id.
 *
 * @example
 * await listEndedPage(fork(orm), 'alice', { limit: 20 })
 */
export async function listEndedPage(
  runner: EntityManager,
  userId: string,
  page: PageRequest,
): Promise<Page<SessionInfo>> {
  const [after, afterParams] = page.cursor ? afterCursor('ended_at', page.cursor) : ['true', []]
  const rows = await query(
    runner,
    `select ${COLUMNS}, ${microseconds('ended_at')} as sort_us from sessionward_session
      where user_id = ? and ended_at is not null and ${after}
      order by ended_at desc, id desc
      limit ?`,
    [userId, ...afterParams, page.limit + 1],
  )
  return toPage(rows, page.limit, toSessionInfoRow)
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
         order by ended_at desc, id desc
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
