// Keyset paging, shared by every list the ward answers (the devices list, the history,
// `ward.listSessions` and the admin list): one cursor format and one set of `?limit=` rules.

/**
 * Where the next page starts: the sort key of the last row shown, a timestamp in whole
 * microseconds since the epoch (PostgreSQL's own precision, which a JS Date would round) and
 * the id that breaks ties.
 */
export interface Cursor {
  atUs: string
  id: string
}

/** One page to read: at most `limit` rows, after `cursor` (from the start without one). */
export interface PageRequest {
  limit: number
  cursor?: Cursor
}

/** The user's own lists (devices, history, `ward.listSessions`) answer at most this many rows. */
export const MAX_PAGE = 100
/** The devices list's and `ward.listSessions`' page when no limit is asked for. */
export const DEFAULT_PAGE = 50

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const MICROS = /^-?\d{1,17}$/

/**
 * Whether a string is a session id (a UUID), checked before it reaches SQL.
 *
 * @example
 * isSessionId('not-an-id') // false
 */
export function isSessionId(value: string): boolean {
  return UUID.test(value)
}

const BAD_CURSOR = 'cursor is not one this server issued: pass nextCursor back as is'

/**
 * An opaque cursor: base64url of the last row's sort key.
 *
 * @example
 * encodeCursor({ atUs: '1795424400000000', id: '…' }) // 'WyIxNzk1…'
 */
export function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify([cursor.atUs, cursor.id])).toString('base64url')
}

/**
 * Reads a cursor made by `encodeCursor`; anything else is null (a 400, never a SQL error).
 *
 * @example
 * decodeCursor('garbage') // null
 */
export function decodeCursor(value: string): Cursor | null {
  if (value.length > 200 || !/^[A-Za-z0-9_-]+$/.test(value)) return null
  try {
    const parsed: unknown = JSON.parse(Buffer.from(value, 'base64url').toString('utf8'))
    if (!Array.isArray(parsed) || parsed.length !== 2) return null
    const [atUs, id] = parsed as unknown[]
    if (typeof atUs !== 'string' || !MICROS.test(atUs)) return null
    if (typeof id !== 'string' || !isSessionId(id)) return null
    return { atUs, id }
  } catch {
    return null
  }
}

/**
 * Validates `?limit=` and `?cursor=` (undefined when absent): a limit is a whole number from 1
 * to `max`, a cursor one that `encodeCursor` made.
 *
 * @example
 * parsePage({ limit: '20' }, { defaultLimit: 50, max: 100 }) // { page: { limit: 20 } }
 */
export function parsePage(
  query: { limit?: string; cursor?: string },
  { defaultLimit, max }: { defaultLimit: number; max: number },
): { page: PageRequest } | { message: string } {
  const page: PageRequest = { limit: defaultLimit }
  if (query.cursor !== undefined) {
    const cursor = decodeCursor(query.cursor)
    if (!cursor) return { message: BAD_CURSOR }
    page.cursor = cursor
  }
  if (query.limit !== undefined) {
    const limit = /^\d{1,9}$/.test(query.limit) ? Number(query.limit) : Number.NaN
    if (!(limit >= 1 && limit <= max)) {
      return { message: `limit must be a whole number from 1 to ${max}` }
    }
    page.limit = limit
  }
  return { page }
}
