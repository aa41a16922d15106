import type { MikroORM, Transaction } from '@mikro-orm/core'
import { Migrator } from '@mikro-orm/migrations'
import type { AbstractSqlDriver, EntityManager } from '@mikro-orm/sql'
import type { DeviceSighting, KnownDevice, ReportUse } from './known-device.ts'
import { migrationsList } from './migrations/index.ts'
import type { Cursor, PageRequest } from './paging.ts'
import { invalidRequest, ProblemError, storeUnavailable } from './problems.ts'
import type { IdpSessions, LoadedSession, SessionInfo, SessionRecord } from './session.ts'
import type { EndReason } from './vocabulary.ts'

// Every statement the library writes is here, in plain SQL that PostgreSQL and PGlite share:
// the session lifecycle's, token rotation's, the admin view's and the migration lock's. The
// schema's own DDL is in migrations/, run by MikroORM's Migrator (which also keeps its history
// table). Each call runs on its own fork of the EntityManager: never the global one.

const COLUMNS =
  'id, user_id, token_hash, created_at, last_activity_at, expires_at, ended_at, end_reason, ip, last_ip, user_agent, detail, idp_issuer, idp_subject, idp_session_id'

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
    idp:
      row.idp_issuer == null
        ? null
        : {
            issuer: String(row.idp_issuer),
            sub: String(row.idp_subject),
            sid: (row.idp_session_id as string | null) ?? null,
          },
  }
}

/** A row selected with its `expire_after`: the record and the idle limit recorded for it. */
function toLoaded(row: Row): LoadedSession {
  return {
    record: toRecord(row),
    expireAfter: row.expire_after == null ? null : Number(row.expire_after),
    heldUntil: row.held_until == null ? null : toDate(row.held_until).getTime(),
  }
}

function toRecord(row: Row): SessionRecord {
  return { ...toSessionInfoRow(row), tokenHash: String(row.token_hash) }
}

/** A fresh EntityManager for one unit of work. */
function fork(orm: MikroORM): EntityManager {
  return orm.em.fork() as EntityManager
}

/**
 * The database failed or could not be reached: a 503 `store_unavailable`. `Retry-After` only
 * when retrying may help (unreachable, timed out, overloaded): a statement the store cannot run
 * (a missing table: migrations not applied) needs the operator, not a retry. The edge answers it
 * (and hands apps an HTTPException, `StoreUnavailableError`).
 */
export class StoreFailure extends ProblemError {
  readonly retryable: boolean
  constructor(cause: unknown, retryable = true) {
    super(storeUnavailable(retryable), cause)
    this.name = 'StoreFailure'
    this.retryable = retryable
  }
}

/**
 * The store refused a value the client sent (bad text, a conflict): a 400 `invalid_request`.
 * It is the client's mistake, so it is never logged as a store failure.
 */
export class StoreInputError extends ProblemError {
  constructor(message: string, cause?: unknown) {
    super(invalidRequest(message), cause)
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
 * storeError(error) // StoreInputError for 22P02, StoreFailure for ECONNREFUSED
 */
export function storeError(error: unknown): ProblemError {
  if (error instanceof ProblemError) return error
  const code = (error as { code?: unknown } | null)?.code
  if (typeof code !== 'string' || !SQLSTATE.test(code)) return new StoreFailure(error)
  const sqlClass = code.slice(0, 2)
  if (sqlClass === '22') {
    const message =
      INPUT_MESSAGES[code] ?? 'a value in the request is not valid for the session store'
    return new StoreInputError(message, error)
  }
  if (sqlClass === '23') return new StoreInputError('the request conflicts with stored data', error)
  return new StoreFailure(error, TRANSIENT_CLASSES.has(sqlClass))
}

/**
 * A database error as it may be logged: driver messages can quote the statement with its
 * parameters, so hex digests (token hashes) are masked.
 *
 * @example
 * logger.error('sessionward: store failed', describeStoreError(error))
 */
export function describeStoreError(error: unknown): string {
  const cause = error instanceof StoreFailure ? error.cause : error
  const message = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause)
  return message.replace(/[0-9a-f]{64}/gi, '[hash]')
}

/** The store took longer than its bound: a 503 with Retry-After, like an unreachable store. */
function storeTimedOut(bound: number): StoreFailure {
  const cause = new Error(`no answer within storeTimeout (${bound / 1000} s)`)
  cause.name = 'StoreTimeoutError'
  return new StoreFailure(cause)
}

/**
 * `work`, or a `storeTimedOut` rejection once `ms` pass first (`onLate` runs at that moment).
 * The last resort for a stalled socket: the statement itself is cancelled by
 * statement_timeout where the store can.
 */
function withinBound<T>(
  work: Promise<T>,
  ms: number,
  bound: number,
  onLate: () => void = () => undefined,
): Promise<T> {
  if (ms <= 0) {
    // Never sent: its outcome no longer matters (a rejection must not go unhandled).
    work.catch(() => undefined)
    onLate()
    return Promise.reject(storeTimedOut(bound))
  }
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onLate()
      reject(storeTimedOut(bound))
    }, ms)
  })
  return Promise.race([work, late]).finally(() => clearTimeout(timer))
}

// A failure after COMMIT was sent that says nothing of whether it landed: no SQLSTATE (a socket
// closed, the bound passed), a connection exception (08) or the server ending the connection
// (57P01-57P03). Any other SQLSTATE is the server answering that the COMMIT failed.
const COMMIT_ANSWER_LOST = /^(08|57P0)/

function commitAnswerLost(error: unknown): boolean {
  const cause = error instanceof StoreFailure ? error.cause : error
  const code = (cause as { code?: unknown } | null)?.code
  return typeof code !== 'string' || !SQLSTATE.test(code) || COMMIT_ANSWER_LOST.test(code)
}

/**
 * How a transaction ended, when it did not roll back (a rolled-back transaction rejects: nothing
 * of it landed). `committed`: the store acknowledged the COMMIT. `unknown`: COMMIT was sent and
 * its acknowledgement never came (past storeTimeout, or the connection broke): the work's value
 * is what landed if it landed, and `error` is the 503 to answer if it did not.
 */
export type Settled<T> =
  | { outcome: 'committed'; value: T }
  | { outcome: 'unknown'; value: T; error: StoreFailure }

/**
 * The work's value once its transaction is known to have landed: at once when committed; when
 * unknown, once `landed` (reading the affected rows by id) says so. Otherwise (not landed, or
 * the read failed too) throws the transaction's 503.
 *
 * @example
 * const records = await landedValue(await store.transaction(work), (records) => readBack(records))
 */
export async function landedValue<T>(
  settled: Settled<T>,
  landed: (value: T) => Promise<boolean>,
): Promise<T> {
  if (settled.outcome === 'committed') return settled.value
  if (!(await landed(settled.value).catch(() => false))) throw settled.error
  return settled.value
}

/**
 * How a statement that writes on its own (autocommit: its own transaction) ended, when the store
 * did not answer that it failed: `answered` with its value, or `unknown` when the answer was lost
 * after it may have been sent (past storeTimeout, a connection broken): the caller reads the
 * rows back by id to learn whether it landed, and answers `error` if it did not.
 */
export type StatementOutcome<T> =
  | { outcome: 'answered'; value: T }
  | { outcome: 'unknown'; error: StoreFailure }

/**
 * `run` (one statement's promise) settled as a `StatementOutcome`. A failure the store answered
 * (a SQLSTATE that is not a lost connection) or one raised before anything was sent (bad input)
 * rejects: nothing of it landed.
 *
 * @example
 * const outcome = await settleStatement(store.insertSession(started))
 */
export async function settleStatement<T>(run: Promise<T>): Promise<StatementOutcome<T>> {
  try {
    return { outcome: 'answered', value: await run }
  } catch (error) {
    if (!(error instanceof StoreFailure) || !commitAnswerLost(error)) throw storeError(error)
    return { outcome: 'unknown', error }
  }
}

/**
 * A capped sign-in as planned by the rules from the user's live sessions read just before, for
 * `signInUnderCap` to carry out under the user's lock.
 */
export interface CappedSignIn {
  userId: string
  /** False: no cap, so no check of the live sessions (and no ends). */
  capped: boolean
  started: NewSession
  /** The user's live sessions the plan was made on, as read. */
  seen: LoadedSession[]
  /** The sessions to end, why, and each one's NOTIFY payload (null: no bus in the database). */
  ends: { id: string; reason: EndReason; notice: string | null }[]
  endedAt: Date
  /** Trims the user's log to this many ended rows in the same statement; null: the sweep does. */
  logLimit: number | null
}

/**
 * What `signInUnderCap` did: `done`, with the ids of the sessions it ended; or `stale`, nothing
 * done, with the live sessions as they are.
 */
export type CappedOutcome =
  | { state: 'done'; endedIds: string[] }
  | { state: 'stale'; live: LoadedSession[] }
  | { state: 'late' }

/**
 * Which live sessions `endSessions` ends. `activeBefore` spares a session whose row shows
 * activity since (written by another instance after it was chosen).
 */
export type EndTarget =
  | { ids: string[]; userId?: string; activeBefore?: Date }
  | { userId: string; exceptId?: string }
  | { tokenHash: string }
  | { idp: IdpSessions }

/** The SQL condition (and its parameters) for the rows an `EndTarget` names. */
function targetCondition(target: EndTarget): [string, unknown[]] {
  if ('tokenHash' in target) return ['token_hash = ?', [target.tokenHash]]
  if ('idp' in target) {
    const { issuer, sub, sid } = target.idp
    const where = ['idp_issuer = ?']
    const params: unknown[] = [issuer]
    if (sub !== undefined) {
      where.push('idp_subject = ?')
      params.push(sub)
    }
    if (sid !== undefined) {
      where.push('idp_session_id = ?')
      params.push(sid)
    }
    return [where.join(' and '), params]
  }
  if ('ids' in target) {
    let where = `id in (${target.ids.map(() => '?').join(', ')})`
    let params: unknown[] = target.ids
    if (target.userId !== undefined) {
      where += ' and user_id = ?'
      params = [...params, target.userId]
    }
    if (target.activeBefore !== undefined) {
      where += ' and last_activity_at < ?'
      params = [...params, target.activeBefore]
    }
    return [where, params]
  }
  if (target.exceptId) return ['user_id = ? and id <> ?', [target.userId, target.exceptId]]
  return ['user_id = ?', [target.userId]]
}

/**
 * One end of sessions: which (`target`), why, when, and the `detail` kept on the rows. `again`:
 * a retry of this very end (same `endedAt` and `reason`) whose COMMIT may have landed
 * unacknowledged (see `endSessions`).
 */
export interface SessionEnd {
  target: EndTarget
  reason: EndReason
  endedAt: Date
  detail?: string | null
  again?: boolean
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
 * The earliest moment a row's own limits can end it: its absolute end, or its last activity
 * plus its idle limit (rows without one: their last activity). Always at or before the moment
 * `expiredCondition` holds, so `due <= now` reads a superset of the expired rows from the due
 * index (migration 20261206) and the exact condition filters it.
 */
const DUE_AT = 'sessionward_due_at(expires_at, last_activity_at, expire_after)'

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

/** A session to store: its row, and the idle limit of the policy it starts under. */
export interface NewSession {
  record: SessionRecord
  expireAfter: number
}

/** The insert statement (and its parameters) that stores a new session. */
function insertStatement({ record, expireAfter }: NewSession): [string, unknown[]] {
  return [
    `insert into sessionward_session (${COLUMNS}, expire_after)
      values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
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
      record.idp?.issuer ?? null,
      record.idp?.sub ?? null,
      record.idp?.sid ?? null,
      expireAfter,
    ],
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

/** A session whose token was rotated away from the one presented (see `findRetired`). */
export interface RetiredToken {
  id: string
  /** The session's current token hash. */
  tokenHash: string
  endedAt: Date | null
  endReason: EndReason | null
  rotatedAt: Date | null
  /** The hash of the token the last rotation retired. */
  previous: string | null
}

// Retired session tokens kept per session for reuse detection (one per rotation).
const RETIRED_KEPT = 64

// The admin view's columns, listed one by one: token_hash and retired_token_hashes are never
// selected, so they cannot leak into a view.
const ADMIN_COLUMNS = `id, user_id, created_at, last_activity_at, expires_at, ended_at, end_reason,
  ip, last_ip, user_agent, detail, idp_issuer, idp_subject, idp_session_id,
  ${microseconds('created_at')} as created_us`

/** What the admin list is filtered by. Dates are inclusive (`…After`) or exclusive (`…Before`). */
export interface AdminFilters {
  user?: string
  live?: boolean
  reason?: EndReason
  createdAfter?: Date
  createdBefore?: Date
  endedAfter?: Date
  endedBefore?: Date
  cursor?: Cursor
  limit: number
}

/** One session as the admin sees it (no token, no hash), with its sort key for cursors. */
export interface AdminSession extends SessionInfo {
  cursor: Cursor
}

/** One page of the admin list. */
export interface AdminPage {
  sessions: AdminSession[]
  /** Where the next page starts, or null on the last page. */
  next: Cursor | null
}

/** Sessions started, and ended by reason, per clock hour (UTC), oldest hour first. */
export interface HourlyActivity {
  /** Start of each hour (ms since the epoch). */
  hours: number[]
  started: number[]
  ended: Partial<Record<EndReason, number[]>>
}

const HOUR = 3_600_000

// The admin list filtered by end reason is read from the reason index (migration 20261206), in
// its order. With a plain `end_reason = ?` the planner takes the reason as a constant, sees the
// `created_at` index give the same order at the same cost, and takes that one: it walks every
// live session (the newest rows) before the first ended one, seconds per page at a million live
// sessions. `= any(…)` keeps `end_reason` in the order, which only the reason index gives.
const REASON_ORDER = 'end_reason, '

function toAdminSession(row: Row): AdminSession {
  return {
    ...toSessionInfoRow(row),
    cursor: { atUs: String(row.created_us), id: String(row.id) },
  }
}

/** The admin list's WHERE clause (with its parameters) for `filters`. */
function adminConditions(filters: AdminFilters, expiry: Expiry): [string[], unknown[]] {
  const where: string[] = []
  const params: unknown[] = []
  if (filters.user !== undefined) {
    where.push('user_id = ?')
    params.push(filters.user)
  }
  if (filters.live !== undefined) {
    // Live: not ended and not expired (an abandoned session awaiting the sweep is not live).
    const [expired, expiredParams] = expiredCondition(expiry)
    where.push(
      filters.live ? `ended_at is null and not ${expired}` : `(ended_at is not null or ${expired})`,
    )
    params.push(...expiredParams)
  }
  if (filters.reason !== undefined) {
    // `= any(…)`, not `=`: see REASON_ORDER.
    where.push('end_reason = any(array[?]::text[])')
    params.push(filters.reason)
  }
  const ranges = [
    ['created_at >= ?', filters.createdAfter],
    ['created_at < ?', filters.createdBefore],
    ['ended_at >= ?', filters.endedAfter],
    ['ended_at < ?', filters.endedBefore],
  ] as const
  for (const [condition, date] of ranges) {
    if (date === undefined) continue
    where.push(condition)
    params.push(date)
  }
  if (filters.cursor) {
    const [after, afterParams] = afterCursor('created_at', filters.cursor)
    where.push(after)
    params.push(...afterParams)
  }
  return [where, params]
}

/** Counted rows of `hourlyActivity`'s statement as 24 hourly series from `first`. */
function toHourlyActivity(rows: Row[], first: number): HourlyActivity {
  const hours = Array.from({ length: 24 }, (_, i) => first + i * HOUR)
  const started = hours.map(() => 0)
  const ended: HourlyActivity['ended'] = {}
  for (const row of rows) {
    const index = (toDate(row.hour).getTime() - first) / HOUR
    if (!(index >= 0 && index < 24)) continue
    const n = Number(row.n)
    if (row.kind === 'started') {
      started[index] = n
    } else {
      const reason = String(row.reason) as EndReason
      const series = ended[reason] ?? hours.map(() => 0)
      series[index] = n
      ended[reason] = series
    }
  }
  return { hours, started, ended }
}

/** The channel the PostgreSQL bus sends on and listens to (see postgres-bus.ts). */
export const BUS_CHANNEL = 'sessionward_v1'

/** The bus's own connection: a `pg` client outside the pool (its types are not a dependency). */
export interface ListenConnection {
  query(text: string): Promise<unknown>
}

/**
 * Starts listening on the bus channel: from its answer on, every NOTIFY that commits on it
 * reaches this connection.
 *
 * @example
 * await listen(client)
 */
export async function listen(connection: ListenConnection): Promise<void> {
  await connection.query(`listen ${BUS_CHANNEL}`)
}

/**
 * A round trip on the listening connection: its answer comes after every notification that
 * committed before it, so a connection that answers has missed nothing up to then.
 *
 * @example
 * await heartbeat(client)
 */
export async function heartbeat(connection: ListenConnection): Promise<void> {
  await connection.query('select 1')
}

/** An end as the bus replays it from the table. */
export interface StoredEnd {
  sessionId: string
  tokenHash: string
  reason: EndReason
  endedAt: Date
}

/** When a transaction's statements must be done by (performance.now() ms), and whether the caller gave up. */
interface Deadline {
  at: number
  gaveUp: boolean
}

/**
 * The library's statements, each one bounded by storeTimeout (inside a transaction, by what
 * is left of the transaction's own bound). A failure is answered as `storeError` classifies it:
 * 400 for input the store refuses, 503 for a store that cannot serve or did not answer in time.
 */
export class Statements {
  /** Where the statements run: the store's own EntityManager, or a transaction's. */
  readonly #em: EntityManager
  /** The bound (ms) on each call; undefined: unbounded. */
  readonly #bound: number | undefined
  /** Set inside a transaction: its statements share its deadline. */
  readonly #deadline: Deadline | null

  constructor(em: EntityManager, bound: number | undefined, deadline: Deadline | null) {
    this.#em = em
    this.#bound = bound
    this.#deadline = deadline
  }

  /**
   * Runs one statement within the bound. The library's statements are the methods below; this
   * is for them and for a test's own probe.
   *
   * @example
   * const rows = await store.query('select 1 as one', [])
   */
  async query(sql: string, params: unknown[]): Promise<Row[]> {
    // PostgreSQL text cannot hold NUL, and the wire protocol breaks on one (08P01, which would
    // read as a lost connection): refused before it is sent.
    if (params.some((param) => typeof param === 'string' && param.includes('\0'))) {
      throw new StoreInputError(
        'a value in the request contains a NUL byte, which cannot be stored',
      )
    }
    const bound = this.#bound
    const deadline = this.#deadline
    // A transaction past its deadline sends nothing more: the throw rolls it back.
    if (bound !== undefined && deadline && (deadline.gaveUp || performance.now() >= deadline.at)) {
      throw storeTimedOut(bound)
    }
    try {
      const rows = this.#em.execute<Row[]>(sql, params, 'all')
      if (bound === undefined) return await rows
      const until = deadline?.at ?? performance.now() + bound
      return await withinBound(rows, until - performance.now(), bound)
    } catch (error) {
      throw storeError(error)
    }
  }

  /**
   * Stores a new session row.
   *
   * @example
   * await tx.insertSession({ record, expireAfter: policy.expireAfter })
   */
  async insertSession(session: NewSession): Promise<void> {
    const [insert, params] = insertStatement(session)
    await this.query(insert, params)
  }

  /**
   * The session whose token has this hash, live or ended, or null.
   *
   * @example
   * await store.findByTokenHash(hashToken(token))
   */
  async findByTokenHash(tokenHash: string): Promise<LoadedSession | null> {
    const [row] = await this.query(
      `select ${COLUMNS}, expire_after, held_until from sessionward_session where token_hash = ?`,
      [tokenHash],
    )
    return row ? toLoaded(row) : null
  }

  /**
   * Records the limits of the policy in force for a live session: its idle limit, and an
   * absolute end moved earlier when `maxAge` shrank (a longer one never extends it).
   *
   * @example
   * await store.recordLimits(id, { expireAfter: 600, maxAge: 3600 })
   */
  async recordLimits(id: string, limits: { expireAfter: number; maxAge: number }): Promise<void> {
    await this.query(
      `update sessionward_session
          set expire_after = ?,
              expires_at = least(expires_at, created_at + ? * interval '1 second')
        where id = ? and ended_at is null`,
      [limits.expireAfter, limits.maxAge, id],
    )
  }

  /**
   * One session by id, or null.
   *
   * @example
   * await store.findById(id)
   */
  async findById(id: string): Promise<SessionRecord | null> {
    const [record] = await this.findByIds([id])
    return record ?? null
  }

  /**
   * The sessions with these ids that exist, live or ended, in no particular order.
   *
   * @example
   * await store.findByIds([first, second])
   */
  async findByIds(ids: string[]): Promise<SessionRecord[]> {
    if (ids.length === 0) return []
    const rows = await this.query(
      `select ${COLUMNS} from sessionward_session where id in (${ids.map(() => '?').join(', ')})`,
      ids,
    )
    return rows.map(toRecord)
  }

  /**
   * Records activity, and the user agent when one was adopted since the last write (null keeps
   * the stored one). Never moves last activity backwards, whatever order writes land in.
   *
   * @example
   * await store.writeActivity(id, new Date(), '203.0.113.7', null)
   */
  async writeActivity(
    id: string,
    lastActivityAt: Date,
    lastIp: string | null,
    userAgent: string | null,
  ): Promise<void> {
    await this.query(
      `update sessionward_session
          set last_activity_at = greatest(last_activity_at, ?), last_ip = coalesce(?, last_ip),
              user_agent = coalesce(?, user_agent)
        where id = ? and ended_at is null`,
      [lastActivityAt, lastIp, userAgent, id],
    )
  }

  /**
   * Ends live sessions and returns the rows it ended. The `ended_at is null` condition makes
   * ending idempotent: of two racing callers only one gets the row back, so hooks fire once.
   * `again`: the rows this same end ended before (an attempt whose COMMIT's answer was lost)
   * are returned too, so its hooks still fire, once. `started`: a new session stored by the
   * same statement (a sign-in's eviction), one round trip for both.
   *
   * @example
   * await tx.endSessions({ target: { ids: [id] }, reason: 'logout', endedAt: new Date() })
   */
  async endSessions(end: SessionEnd, started?: NewSession): Promise<SessionRecord[]> {
    const { target, reason, endedAt, detail = null, again = false } = end
    if ('ids' in target && target.ids.length === 0) {
      if (started) await this.insertSession(started)
      return []
    }
    const [where, params] = targetCondition(target)
    const live = again
      ? '(ended_at is null or (ended_at = ? and end_reason = ?))'
      : 'ended_at is null'
    const update = `update sessionward_session set ended_at = ?, end_reason = ?, detail = coalesce(?, detail)
        where ${where} and ${live}
        returning ${COLUMNS}`
    const updateParams = [endedAt, reason, detail, ...params, ...(again ? [endedAt, reason] : [])]
    if (!started) return (await this.query(update, updateParams)).map(toRecord)
    const [insert, insertParams] = insertStatement(started)
    const rows = await this.query(
      `with ended as (${update}), started as (${insert}) select * from ended`,
      [...updateParams, ...insertParams],
    )
    return rows.map(toRecord)
  }

  /**
   * Sends each payload on the bus channel (PostgreSQL's NOTIFY): inside a transaction, the
   * listeners get them when it commits, and never if it rolls back.
   *
   * @example
   * await tx.notify([JSON.stringify(message)])
   */
  async notify(payloads: string[]): Promise<void> {
    if (payloads.length === 0) return
    await this.query(`select ${payloads.map(() => 'pg_notify(?, ?)').join(', ')}`, [
      ...payloads.flatMap((payload) => [BUS_CHANNEL, payload]),
    ])
  }

  /**
   * Up to `limit` ends stored at or after `since`, oldest first, after `after` (the last one of
   * the previous page): what a bus listener missed while it was down.
   *
   * @example
   * await store.endsSince(new Date(Date.now() - 60_000), null, 1000)
   */
  async endsSince(
    since: Date,
    after: { endedAt: Date; sessionId: string } | null,
    limit: number,
  ): Promise<StoredEnd[]> {
    const rows = await this.query(
      `select id, token_hash, end_reason, ended_at from sessionward_session
        where ended_at >= ? and (ended_at, id) > (?, ?::uuid)
        order by ended_at, id
        limit ?`,
      [
        since,
        after?.endedAt ?? since,
        after?.sessionId ?? '00000000-0000-0000-0000-000000000000',
        limit,
      ],
    )
    return rows.map((row) => ({
      sessionId: String(row.id),
      tokenHash: String(row.token_hash),
      reason: row.end_reason as EndReason,
      endedAt: toDate(row.ended_at),
    }))
  }

  /**
   * Claims up to `limit` sessions not ended but expired by their rows (see `expiredCondition`)
   * for the background sweep to end inside this transaction: the earliest due first, read
   * through the due index (`DUE_AT`), and locked, skipping rows another instance's sweep holds,
   * so instances sweeping at once share the work and never end a row twice.
   *
   * @example
   * await tx.claimExpired({ now: new Date(), expireAfter: 900, margin: 60 }, 500)
   */
  async claimExpired(expiry: Expiry, limit: number): Promise<LoadedSession[]> {
    const [condition, params] = expiredCondition(expiry)
    const rows = await this.query(
      `select ${COLUMNS}, expire_after from sessionward_session
        where ended_at is null and ${DUE_AT} <= ? and ${condition}
        order by ${DUE_AT}, id
        limit ?
        for update skip locked`,
      [expiry.now, ...params, limit],
    )
    return rows.map(toLoaded)
  }

  /**
   * The users with a session ended at or after `since`: those whose log may have grown past
   * its limit since then (see `pruneLogs`).
   *
   * @example
   * await store.usersEndedSince(lastRound)
   */
  async usersEndedSince(since: Date): Promise<string[]> {
    const rows = await this.query(
      'select distinct user_id from sessionward_session where ended_at >= ?',
      [since],
    )
    return rows.map((row) => String(row.user_id))
  }

  /**
   * Carries out a capped sign-in in one statement on its own (`sessionward_sign_in_2`,
   * migrations 20261206300000 and 20261206500000): under the user's lock, if the user's live
   * sessions are still `seen` (ids, activity and limits, to the millisecond), ends the planned
   * ones still live (sending each one's notice with it), stores the new session and trims the
   * log when asked, all in one transaction; answers the ids it ended. Otherwise it
   * changes nothing and answers the live sessions as they are (`stale`: plan again). The lock
   * is waited for at most half of storeTimeout; a call that gets it after storeTimeout (held on
   * the way) does nothing and answers `late`.
   *
   * @example
   * const outcome = await store.signInUnderCap({ userId, started, seen, ends, endedAt, logLimit: null })
   */
  async signInUnderCap(plan: CappedSignIn): Promise<CappedOutcome> {
    const { record, expireAfter } = plan.started
    const list = (n: number) => Array.from({ length: n }, () => '?').join(', ')
    const seen = list(plan.seen.length)
    const ends = list(plan.ends.length)
    const rows = await this.query(
      `select * from sessionward_sign_in_2(?, ?, ?,
          array[${seen}]::uuid[], array[${seen}]::timestamptz[], array[${seen}]::timestamptz[],
          array[${seen}]::integer[],
          array[${ends}]::uuid[], array[${ends}]::text[], array[${ends}]::text[],
          ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        plan.userId,
        // When this call's caller gives up: arriving later, it does nothing (see the migration).
        // Real time, as the database's clock counts it: not a `now` an app or a test may set.
        this.#bound === undefined
          ? null
          : new Date(performance.timeOrigin + performance.now() + this.#bound),
        plan.capped,
        ...plan.seen.map(({ record }) => record.id),
        ...plan.seen.map(({ record }) => record.lastActivityAt),
        ...plan.seen.map(({ record }) => record.expiresAt),
        ...plan.seen.map(({ expireAfter }) => expireAfter),
        ...plan.ends.map((end) => end.id),
        ...plan.ends.map((end) => end.reason),
        ...plan.ends.map((end) => end.notice),
        plan.endedAt,
        BUS_CHANNEL,
        plan.logLimit,
        this.#bound === undefined ? 0 : Math.ceil(this.#bound / 2),
        record.id,
        record.tokenHash,
        record.createdAt,
        record.expiresAt,
        record.ip,
        record.userAgent,
        record.idp?.issuer ?? null,
        record.idp?.sub ?? null,
        record.idp?.sid ?? null,
        expireAfter,
      ],
    )
    // The first row says what happened; the others are sessions (`stale`) or ended ids (`done`).
    const [outcome, ...sessions] = rows
    const state = outcome?.state
    if (state === 'late') return { state }
    if (state === 'stale') return { state, live: sessions.map(toLoaded) }
    if (state !== 'done')
      throw new StoreFailure(new Error('sessionward_sign_in_2 gave no outcome'), false)
    return { state, endedIds: sessions.map((row) => String(row.id)) }
  }

  /**
   * Whether the sign-in that stores session `id` landed, asked under the user's lock (as
   * `signInUnderCap` runs): a call still holding it commits first; one that gets it later is
   * past its deadline and lands nothing. For a sign-in whose answer was lost.
   *
   * @example
   * if (!(await store.signInLanded(userId, id))) throw lost
   */
  async signInLanded(userId: string, id: string): Promise<boolean> {
    const [row] = await this.query('select sessionward_sign_in_landed(?, ?) as landed', [
      userId,
      id,
    ])
    return row?.landed === true
  }

  /**
   * A user's live sessions, most recently active first.
   *
   * @example
   * await tx.listLive('alice')
   */
  async listLive(userId: string): Promise<LoadedSession[]> {
    const rows = await this.query(
      `select ${COLUMNS}, expire_after from sessionward_session
        where user_id = ? and ended_at is null
        order by last_activity_at desc, id`,
      [userId],
    )
    return rows.map(toLoaded)
  }

  /**
   * One page of a user's live sessions that are not expired (see `expiredCondition`), newest
   * login first, ties by id. Login time never changes, so paging is stable while the sessions
   * are used: each one shows up exactly once.
   *
   * @example
   * await store.listLivePage('alice', expiry, { limit: 50 })
   */
  async listLivePage(
    userId: string,
    expiry: Expiry,
    page: PageRequest,
  ): Promise<Page<SessionRecord>> {
    const [expired, expiredParams] = expiredCondition(expiry)
    const [after, afterParams] = page.cursor ? afterCursor('created_at', page.cursor) : ['true', []]
    const rows = await this.query(
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
   * await store.listEndedPage('alice', { limit: 20 })
   */
  async listEndedPage(userId: string, page: PageRequest): Promise<Page<SessionInfo>> {
    const [after, afterParams] = page.cursor ? afterCursor('ended_at', page.cursor) : ['true', []]
    const rows = await this.query(
      `select ${COLUMNS}, ${microseconds('ended_at')} as sort_us from sessionward_session
        where user_id = ? and ended_at is not null and ${after}
        order by ended_at desc, id desc
        limit ?`,
      [userId, ...afterParams, page.limit + 1],
    )
    return toPage(rows, page.limit, toSessionInfoRow)
  }

  /**
   * Deletes these users' ended sessions beyond the `keep` most recent of each (the session
   * log's limit), in one statement. Never touches a live session.
   *
   * @example
   * await tx.pruneLogs(['alice', 'bob'], 20)
   */
  async pruneLogs(userIds: string[], keep: number): Promise<number> {
    if (userIds.length === 0) return 0
    // One probe of the log index per user, whatever the table's statistics say.
    const rows = await this.query(
      `delete from sessionward_session
        where id in (
          select old.id
            from unnest(array[${userIds.map(() => '?').join(', ')}]::text[]) as users(user_id)
           cross join lateral (
             select id from sessionward_session as logged
              where logged.user_id = users.user_id and logged.ended_at is not null
              order by logged.ended_at desc, logged.id desc
             offset ?
           ) as old
        )
        returning id`,
      [...userIds, keep],
    )
    return rows.length
  }

  /**
   * Remembers the `jti` of an identity provider's token until `keepUntil`, forgetting those whose
   * time has passed: true when it is new, false when it was taken before (a replay), on any
   * instance.
   *
   * @example
   * if (!(await tx.rememberIdpToken(issuer, jti, new Date(exp * 1000), new Date()))) refuse()
   */
  async rememberIdpToken(
    issuer: string,
    jti: string,
    keepUntil: Date,
    now: Date,
  ): Promise<boolean> {
    await this.query('delete from sessionward_idp_token where expires_at < ?', [now])
    const rows = await this.query(
      `insert into sessionward_idp_token (issuer, jti, expires_at) values (?, ?, ?)
        on conflict do nothing
        returning jti`,
      [issuer, jti, keepUntil],
    )
    return rows.length > 0
  }

  /**
   * Whether this `jti` of `issuer` is remembered (a `rememberIdpToken` landed).
   *
   * @example
   * await store.hasIdpToken(issuer, jti)
   */
  async hasIdpToken(issuer: string, jti: string): Promise<boolean> {
    const rows = await this.query(
      'select 1 as found from sessionward_idp_token where issuer = ? and jti = ?',
      [issuer, jti],
    )
    return rows.length > 0
  }

  /**
   * Serializes logins of one user until the transaction ends, so counting live sessions and
   * inserting a new one cannot interleave with another login of the same user.
   *
   * @example
   * await store.transaction(async (tx) => { await tx.lockUser(userId); ... })
   */
  async lockUser(userId: string): Promise<void> {
    await this.query("select pg_advisory_xact_lock(hashtextextended('sessionward:' || ?, 0))", [
      userId,
    ])
  }

  /**
   * Token rotation: gives the live session `id` the token hash `newHash` if its current one is
   * still `oldHash`, keeping the old one among its retired hashes. False when it is not (ended,
   * or rotated by someone else first).
   *
   * @example
   * await store.rotateToken(session.id, oldHash, hashToken(token), new Date())
   */
  async rotateToken(id: string, oldHash: string, newHash: string, at: Date): Promise<boolean> {
    const rows = await this.query(
      `update sessionward_session
          set token_hash = ?, token_rotated_at = ?,
              retired_token_hashes = (array_prepend(token_hash, coalesce(retired_token_hashes, '{}')))[1:${RETIRED_KEPT}]
        where id = ? and token_hash = ? and ended_at is null
        returning id`,
      [newHash, at, id, oldHash],
    )
    return rows.length > 0
  }

  /**
   * The session that retired the token with this hash (one of its last rotations), or null.
   *
   * @example
   * await store.findRetired(hashToken(oldToken))
   */
  async findRetired(tokenHash: string): Promise<RetiredToken | null> {
    const [row] = await this.query(
      `select id, token_hash, ended_at, end_reason, token_rotated_at,
              retired_token_hashes[1] as previous
         from sessionward_session
        where retired_token_hashes @> array[?]::text[]
        limit 1`,
      [tokenHash],
    )
    if (!row) return null
    return {
      id: String(row.id),
      tokenHash: String(row.token_hash),
      endedAt: row.ended_at == null ? null : toDate(row.ended_at),
      endReason: (row.end_reason as EndReason | null) ?? null,
      rotatedAt: row.token_rotated_at == null ? null : toDate(row.token_rotated_at),
      previous: row.previous == null ? null : String(row.previous),
    }
  }

  /**
   * One page of the admin list, newest first, by keyset pagination on `(created_at, id)`: a
   * row inserted while someone pages is never shown twice nor shifts the others (no OFFSET).
   *
   * @example
   * const page = await store.adminPage({ user: 'alice', live: true, limit: 50 }, expiry)
   */
  async adminPage(filters: AdminFilters, expiry: Expiry): Promise<AdminPage> {
    const [where, params] = adminConditions(filters, expiry)
    const rows = await this.query(
      `select ${ADMIN_COLUMNS} from sessionward_session
        ${where.length ? `where ${where.join(' and ')}` : ''}
        order by ${filters.reason === undefined ? '' : REASON_ORDER}created_at desc, id desc
        limit ?`,
      [...params, filters.limit + 1],
    )
    const sessions = rows.slice(0, filters.limit).map(toAdminSession)
    const last = sessions.at(-1)
    return { sessions, next: rows.length > filters.limit && last ? last.cursor : null }
  }

  /**
   * One session by id (live or ended) as the admin sees it, or null.
   *
   * @example
   * await store.adminSession(id)
   */
  async adminSession(id: string): Promise<AdminSession | null> {
    const rows = await this.query(`select ${ADMIN_COLUMNS} from sessionward_session where id = ?`, [
      id,
    ])
    return rows[0] ? toAdminSession(rows[0]) : null
  }

  /**
   * Sessions started and ended (by reason) per clock hour over the 24 hours up to `now`, the
   * current partial hour included.
   *
   * @example
   * const activity = await store.hourlyActivity(Date.now())
   */
  async hourlyActivity(now: number): Promise<HourlyActivity> {
    const first = Math.floor(now / HOUR) * HOUR - 23 * HOUR
    const from = new Date(first)
    const to = new Date(first + 24 * HOUR)
    const rows = await this.query(
      // date_bin on timestamps: about half the cost of hour arithmetic on numeric epochs.
      `select 'started' as kind, null as reason,
              date_bin('1 hour', created_at, timestamptz 'epoch') as hour, count(*)::int as n
         from sessionward_session where created_at >= ? and created_at < ?
        group by 3
       union all
       select 'ended', end_reason, date_bin('1 hour', ended_at, timestamptz 'epoch'), count(*)::int
         from sessionward_session where ended_at >= ? and ended_at < ?
        group by 2, 3`,
      [from, to, from, to],
    )
    return toHourlyActivity(rows, first)
  }

  // --- Known devices and report links (issue 23) ---------------------------------------------

  /**
   * Records a sign-in from the device whose id hashes to `deviceHash`: a new row, or the known
   * one's last sighting and user agent. `isNew` when the user had other devices and not this one
   * (a user's very first device is not news). The user's other devices last seen before
   * `forgetBefore` are dropped on the way (no cookie can name them any more).
   *
   * @example
   * const { device, isNew } = await store.sightDevice(userId, hashToken(deviceId), seen)
   */
  async sightDevice(
    userId: string,
    deviceHash: string,
    seen: { id: string; browser: string | null; os: string | null; at: Date; forgetBefore: Date },
  ): Promise<DeviceSighting> {
    // The CTEs' snapshot is the table before the upsert: `had_devices` counts only the others.
    const [row] = await this.query(
      `with prior as (
         select exists(select 1 from sessionward_device where user_id = ?) as had_devices
       ), forgotten as (
         delete from sessionward_device
          where user_id = ? and last_seen_at < ? and device_hash <> ?
       ), sighted as (
         insert into sessionward_device (id, user_id, device_hash, first_seen_at, last_seen_at, browser, os)
         values (?, ?, ?, ?, ?, ?, ?)
         on conflict (user_id, device_hash) do update
           set last_seen_at = excluded.last_seen_at, browser = excluded.browser, os = excluded.os
         returning id, user_id, first_seen_at, last_seen_at, browser, os, (xmax = 0) as inserted
       )
       select sighted.*, prior.had_devices from sighted, prior`,
      [
        userId,
        userId,
        seen.forgetBefore,
        deviceHash,
        seen.id,
        userId,
        deviceHash,
        seen.at,
        seen.at,
        seen.browser,
        seen.os,
      ],
    )
    if (!row) throw new Error('unreachable: an upsert returned no row')
    return { device: toKnownDevice(row), isNew: row.inserted === true && row.had_devices === true }
  }

  /**
   * A user's known devices, last seen first (at most `limit`).
   *
   * @example
   * await store.listDevices(userId, 100)
   */
  async listDevices(userId: string, limit: number): Promise<KnownDevice[]> {
    const rows = await this.query(
      `select id, user_id, first_seen_at, last_seen_at, browser, os from sessionward_device
        where user_id = ? order by last_seen_at desc, id desc limit ?`,
      [userId, limit],
    )
    return rows.map(toKnownDevice)
  }

  /**
   * Forgets one of a user's devices (its next sign-in is new again); false when it is not theirs.
   *
   * @example
   * await store.forgetDevice(userId, deviceId)
   */
  async forgetDevice(userId: string, id: string): Promise<boolean> {
    const rows = await this.query(
      'delete from sessionward_device where user_id = ? and id = ? returning id',
      [userId, id],
    )
    return rows.length > 0
  }

  /**
   * Holds a new device's live session until `until` (`newDevice.hold`): only its own ping,
   * events and logout answer meanwhile.
   *
   * @example
   * await store.holdSession(session.id, new Date(now + 900_000))
   */
  async holdSession(id: string, until: Date): Promise<void> {
    await this.query(
      'update sessionward_session set held_until = ? where id = ? and ended_at is null',
      [until, id],
    )
  }

  /**
   * Claims live sessions whose hold lapsed unapproved (for the sweep to end `reported`),
   * skipping rows another instance is claiming.
   *
   * @example
   * await tx.claimLapsedHolds(new Date(), 500)
   */
  async claimLapsedHolds(now: Date, limit: number): Promise<string[]> {
    const rows = await this.query(
      `select id from sessionward_session
        where held_until <= ? and ended_at is null
        order by held_until, id
        limit ?
        for update skip locked`,
      [now, limit],
    )
    return rows.map((row) => String(row.id))
  }

  /**
   * Lets a held session of the user in, unless its hold lapsed already; false when no live
   * session of theirs with this id is held.
   *
   * @example
   * await store.approveHeld('alice', id, new Date())
   */
  async approveHeld(userId: string, id: string, now: Date): Promise<boolean> {
    const rows = await this.query(
      `update sessionward_session set held_until = null
        where id = ? and user_id = ? and ended_at is null and held_until > ?
        returning id`,
      [id, userId, now],
    )
    return rows.length > 0
  }

  /**
   * Stores a report link's token hash for a session, usable once until `expiresAt`; expired
   * links are dropped on the way.
   *
   * @example
   * await store.insertReport(hashToken(token), session, new Date(now + 3_600_000), new Date(now))
   */
  async insertReport(
    tokenHash: string,
    session: { id: string; userId: string },
    expiresAt: Date,
    now: Date,
  ): Promise<void> {
    await this.query('delete from sessionward_report where expires_at < ?', [now])
    await this.query(
      `insert into sessionward_report (token_hash, session_id, user_id, expires_at)
        values (?, ?, ?, ?)`,
      [tokenHash, session.id, session.userId, expiresAt],
    )
  }

  /**
   * A report link as it stands (not used by reading it): the session it names, or why it
   * cannot be used.
   *
   * @example
   * await store.findReport(hashToken(token), new Date())
   */
  async findReport(tokenHash: string, now: Date): Promise<ReportUse> {
    const [row] = await this.query(
      'select session_id, user_id, expires_at, used_at from sessionward_report where token_hash = ?',
      [tokenHash],
    )
    return reportState(row, now)
  }

  /**
   * Uses a report link: marks it used if it is unused and unexpired (once, whoever races).
   *
   * @example
   * await tx.useReport(hashToken(token), new Date())
   */
  async useReport(tokenHash: string, now: Date): Promise<ReportUse> {
    const [used] = await this.query(
      `update sessionward_report set used_at = ?
        where token_hash = ? and used_at is null and expires_at > ?
        returning session_id, user_id, expires_at, used_at`,
      [now, tokenHash, now],
    )
    if (used) return reportState({ ...used, used_at: null }, now)
    return this.findReport(tokenHash, now)
  }
}

function toKnownDevice(row: Row): KnownDevice {
  return {
    id: String(row.id),
    userId: String(row.user_id),
    firstSeenAt: toDate(row.first_seen_at),
    lastSeenAt: toDate(row.last_seen_at),
    browser: (row.browser as string | null) ?? null,
    os: (row.os as string | null) ?? null,
  }
}

/** A report row (or none) as a use: usable, or why not. */
function reportState(row: Row | undefined, now: Date): ReportUse {
  if (!row) return { kind: 'refused', why: 'unknown' }
  if (row.used_at != null) return { kind: 'refused', why: 'used' }
  if (toDate(row.expires_at).getTime() <= now.getTime()) return { kind: 'refused', why: 'expired' }
  return { kind: 'valid', sessionId: String(row.session_id), userId: String(row.user_id) }
}

// The library keeps its own migration history so it never mixes with the host app's.
const MIGRATIONS_TABLE = 'sessionward_migrations'
const MIGRATIONS = {
  tableName: MIGRATIONS_TABLE,
  migrationsList,
  snapshot: false,
  transactional: true,
  allOrNothing: true,
  emit: 'ts' as const,
  silent: true,
}

// One key for every migrate() in any process; a transaction lock is released at commit or rollback.
const MIGRATION_LOCK = `select pg_advisory_xact_lock(hashtext('${MIGRATIONS_TABLE}'))`

// The history table exactly as MikroORM's Migrator creates it (a test compares the two).
const MIGRATIONS_TABLE_DDL = `create table if not exists "${MIGRATIONS_TABLE}" ("id" serial primary key, "name" varchar(255) not null, "executed_at" timestamptz(6) not null default current_timestamp(6))`

/**
 * The library's Migrator, working inside one transaction. The Migrator creates and reads its
 * history table while it initialises, before `up()` opens a transaction, and rebuilds that
 * storage when it has checked the database before: each storage it builds gets the transaction.
 */
class TransactionMigrator extends Migrator {
  transaction: Transaction | undefined

  protected override initServices(): void {
    super.initServices()
    if (this.transaction) this.storage.setMasterMigration(this.transaction)
  }
}

function migratorFor(orm: MikroORM, transaction: Transaction): TransactionMigrator {
  const hostMigrations = orm.config.get('migrations')
  // Migrator reads its options once, when built: lend it ours, then give the host its own back.
  orm.config.set('migrations', { ...hostMigrations, ...MIGRATIONS })
  try {
    const migrator = new TransactionMigrator(fork(orm))
    migrator.transaction = transaction
    migrator.getStorage().setMasterMigration(transaction)
    return migrator
  } finally {
    orm.config.set('migrations', hostMigrations)
  }
}

/**
 * One ward's store: its statements (see `Statements`), each on a fresh fork of the ORM and
 * bounded by the ward's storeTimeout, its transactions, and its schema migrations. One per
 * ward: two wards on one ORM keep their own bounds.
 */
export class Store extends Statements {
  readonly orm: MikroORM
  readonly #bound: number | undefined
  /**
   * The `SET LOCAL statement_timeout` each transaction starts with, or null when every
   * connection of the pool has that very bound already (a pool the ward opened, see
   * openDatabase): then it would only cost a round trip per transaction.
   */
  readonly #boundStatement: string | null

  /**
   * @param storeTimeout seconds every call may take (omitted: unbounded, as for the CLI).
   * @example
   * const store = new Store(orm, 5)
   */
  constructor(orm: MikroORM, storeTimeout?: number) {
    const bound = storeTimeout === undefined ? undefined : storeTimeout * 1000
    // One EntityManager for every statement outside a transaction, forked once: `execute` keeps
    // nothing in it (no identity map; transactions fork their own). A fork per statement cost
    // about 25 µs of the ward's CPU per capped login (the login bench's profile).
    super(fork(orm), bound, null)
    this.orm = orm
    this.#bound = bound
    const pooled = (orm.config.get('driverOptions') as { statement_timeout?: unknown } | undefined)
      ?.statement_timeout
    this.#boundStatement =
      bound === undefined || pooled === Math.ceil(bound)
        ? null
        : `set local statement_timeout = ${Math.ceil(bound)}`
  }

  /**
   * Runs `work` in one transaction, bounded as a whole by storeTimeout: PostgreSQL cancels a
   * statement that outlasts it (`statement_timeout`, the pool's or `SET LOCAL`), a stalled connection gives up
   * at a timer, and work past the deadline rolls back rather than commits. Rejects when the
   * transaction rolled back (nothing landed; the failure as `storeError` says); resolves with
   * its outcome otherwise: `committed`, or `unknown` when COMMIT was sent and its answer was
   * lost (see `Settled`; read the affected rows by id to learn which).
   *
   * @example
   * const settled = await store.transaction(async (tx) => { await tx.lockUser(userId); ... })
   */
  async transaction<T>(work: (tx: Statements) => Promise<T>): Promise<Settled<T>> {
    const bound = this.#bound
    // From the call, not from BEGIN: a BEGIN that stalls must not restart the clock.
    const deadline: Deadline = {
      at: performance.now() + (bound ?? Number.POSITIVE_INFINITY),
      gaveUp: false,
    }
    // The work's value, once it is done and COMMIT is to be sent: from then on it may land.
    const committing: { value: T }[] = []
    const run = fork(this.orm).transactional(async (em) => {
      const tx = new Statements(em as EntityManager, bound, deadline)
      if (this.#boundStatement) await tx.query(this.#boundStatement, [])
      const value = await work(tx)
      // Answered 503 meanwhile (the timer won): nothing of it may land after all.
      if (bound !== undefined && (deadline.gaveUp || performance.now() >= deadline.at)) {
        throw storeTimedOut(bound)
      }
      committing.push({ value })
      return value
    })
    try {
      const value = await (bound === undefined
        ? run
        : withinBound(run, bound, bound, () => {
            deadline.gaveUp = true
          }))
      return { outcome: 'committed', value }
    } catch (error) {
      const [sent] = committing
      if (!sent || !commitAnswerLost(error)) throw storeError(error)
      const lost = error instanceof StoreFailure ? error : new StoreFailure(error)
      return { outcome: 'unknown', value: sent.value, error: lost }
    }
  }

  /**
   * Applies the library's pending schema migrations in one transaction, under a database lock
   * every migrate() takes (so each migration runs once, whichever instance gets there first).
   * Idempotent. Not bounded by storeTimeout: it may wait for another instance's and rebuild
   * indexes.
   *
   * @example
   * await new Store(orm).migrate() // ['Migration20261123000000_initial']
   */
  async migrate(): Promise<string[]> {
    const connection = fork(this.orm).getConnection()
    return connection.transactional(async (trx) => {
      await connection.execute('set local statement_timeout = 0', [], 'run', trx)
      await connection.execute(MIGRATION_LOCK, [], 'run', trx)
      const applied = await migratorFor(this.orm, trx).up({ transaction: trx })
      return applied.map((migration) => migration.name)
    })
  }

  /**
   * The migrations the database has not recorded yet, read without writing anything (so not
   * through the Migrator, which creates its table on first use).
   *
   * @example
   * await store.pendingMigrations() // [] when the schema is current
   */
  async pendingMigrations(): Promise<string[]> {
    const [table] = await this.query(
      `select to_regclass('"${MIGRATIONS_TABLE}"') is not null as exists`,
      [],
    )
    const executed = table?.exists
      ? (await this.query(`select name from "${MIGRATIONS_TABLE}"`, [])).map((row) =>
          String(row.name),
        )
      : []
    return migrationsList.map(({ name }) => name).filter((name) => !executed.includes(name))
  }

  /**
   * The SQL `migrate()` runs for the named migrations, as one psql script in one transaction:
   * the same lock, the history table as the Migrator creates it, and each migration recorded
   * the way the Migrator records it, so `migrate()` afterwards finds them applied.
   *
   * @example
   * process.stdout.write(await store.migrationScript(await store.pendingMigrations()))
   */
  async migrationScript(names: string[]): Promise<string> {
    const lines = [
      '-- sessionward schema migrations. Apply with: psql -v ON_ERROR_STOP=1 -f <this file>',
      'begin;',
      '-- The lock ward.migrate() and `npx sessionward migrate` take, so they wait for this script.',
      `${MIGRATION_LOCK};`,
      `${MIGRATIONS_TABLE_DDL};`,
    ]
    for (const { name, class: MigrationClass } of migrationsList.filter((m) =>
      names.includes(m.name),
    )) {
      const migration = new MigrationClass(this.orm.driver as AbstractSqlDriver, this.orm.config)
      await migration.up()
      lines.push('', `-- ${name}`)
      for (const query of migration.getQueries()) {
        if (typeof query !== 'string') throw new Error(`${name}: a query that is not SQL text`)
        lines.push(`${query};`)
      }
      lines.push(`insert into "${MIGRATIONS_TABLE}" ("name") values ('${name}');`)
    }
    lines.push('', 'commit;', '')
    return lines.join('\n')
  }
}
