import type { EntityManager } from '@mikro-orm/sql'
import type { Cursor } from '../paging.ts'
import type { SessionInfo } from '../session.ts'
import {
  afterCursor,
  type Expiry,
  expiredCondition,
  microseconds,
  query,
  type Row,
  toDate,
  toSessionInfoRow,
} from '../store.ts'
import type { EndReason } from '../vocabulary.ts'
import type { AdminFilters } from './filters.ts'

// The admin view's SQL, plain SQL shared by PostgreSQL and PGlite. Columns are listed one by
// one: token_hash and retired_token_hashes are never selected, so they cannot leak into a view.
const COLUMNS = `id, user_id, created_at, last_activity_at, expires_at, ended_at, end_reason,
  ip, last_ip, user_agent, detail,
  ${microseconds('created_at')} as created_us`

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

function toAdminSession(row: Row): AdminSession {
  return {
    ...toSessionInfoRow(row),
    cursor: { atUs: String(row.created_us), id: String(row.id) },
  }
}

/**
 * One page of sessions, newest first, by keyset pagination on `(created_at, id)`: a row
 * inserted while someone pages is never shown twice nor shifts the others (no OFFSET).
 *
 * @example
 * const page = await listSessions(fork(orm), { user: 'alice', live: true, limit: 50 }, expiry)
 */
export async function listSessions(
  runner: EntityManager,
  filters: AdminFilters,
  expiry: Expiry,
): Promise<AdminPage> {
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
    where.push('end_reason = ?')
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
  const rows = await query(
    runner,
    `select ${COLUMNS} from sessionward_session
      ${where.length ? `where ${where.join(' and ')}` : ''}
      order by created_at desc, id desc
      limit ?`,
    [...params, filters.limit + 1],
  )
  const sessions = rows.slice(0, filters.limit).map(toAdminSession)
  const last = sessions.at(-1)
  return { sessions, next: rows.length > filters.limit && last ? last.cursor : null }
}

/**
 * One session by id (live or ended), or null.
 *
 * @example
 * await getSession(fork(orm), id)
 */
export async function getSession(runner: EntityManager, id: string): Promise<AdminSession | null> {
  const rows = await query(runner, `select ${COLUMNS} from sessionward_session where id = ?`, [id])
  return rows[0] ? toAdminSession(rows[0]) : null
}

/**
 * Sessions started and ended (by reason) per clock hour over the 24 hours up to `now`, the
 * current partial hour included.
 *
 * @example
 * const activity = await hourlyActivity(fork(orm), Date.now())
 */
export async function hourlyActivity(runner: EntityManager, now: number): Promise<HourlyActivity> {
  const first = Math.floor(now / HOUR) * HOUR - 23 * HOUR
  const from = new Date(first)
  const to = new Date(first + 24 * HOUR)
  const rows = await query(
    runner,
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
