import { parsePage } from '../paging.ts'
import type { AdminFilters } from '../store.ts'
import { END_REASONS, type EndReason } from '../vocabulary.ts'

export const DEFAULT_LIMIT = 50
export const MAX_LIMIT = 200

// A date (`2026-11-23`, UTC midnight) or a date-time with an optional zone (UTC when absent):
// what `<input type="date">`, `<input type="datetime-local">` and `toISOString()` produce.
const DATE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})?)?$/
const DATE_FIELDS = ['createdAfter', 'createdBefore', 'endedAfter', 'endedBefore'] as const
const KNOWN = new Set(['user', 'live', 'reason', 'cursor', 'limit', ...DATE_FIELDS])

/**
 * Why a `?user=` value cannot name a user, or null. A NUL byte is refused here, before SQL:
 * PostgreSQL text cannot hold one.
 *
 * @example
 * userProblem('a\u0000b') // 'user must not contain a NUL byte (%00)'
 */
export function userProblem(user: string): string | null {
  if (user.length > 255) return 'user must be at most 255 characters'
  if (user.includes('\0')) return 'user must not contain a NUL byte (%00)'
  return null
}

function parseDate(value: string): Date | null {
  if (!DATE.test(value)) return null
  const zoned = value.length === 10 || /(Z|[+-]\d{2}:\d{2})$/.test(value) ? value : `${value}Z`
  const date = new Date(zoned.length === 10 ? `${zoned}T00:00:00Z` : zoned)
  return Number.isNaN(date.getTime()) ? null : date
}

/**
 * Validates the admin list's query string. Empty values count as absent (an HTML form sends
 * every field); unknown names are refused, so a typo never silently widens the list.
 *
 * @example
 * parseListQuery({ user: 'alice', live: 'true' }) // { filters: { user: 'alice', live: true, limit: 50 } }
 */
export function parseListQuery(
  query: Record<string, string | undefined>,
): { filters: AdminFilters } | { message: string } {
  for (const name of Object.keys(query)) {
    if (!KNOWN.has(name)) {
      return {
        message: `unknown query parameter ${JSON.stringify(name)}; use ${[...KNOWN].join(', ')}`,
      }
    }
  }
  const value = (name: string) => {
    const raw = query[name]
    return raw === undefined || raw === '' ? undefined : raw
  }
  const filters: AdminFilters = { limit: DEFAULT_LIMIT }
  const user = value('user')
  if (user !== undefined) {
    const problem = userProblem(user)
    if (problem) return { message: problem }
    filters.user = user
  }
  const live = value('live')
  if (live !== undefined) {
    if (live !== 'true' && live !== 'false') return { message: 'live must be true or false' }
    filters.live = live === 'true'
  }
  const reason = value('reason')
  if (reason !== undefined) {
    if (!END_REASONS.includes(reason as EndReason)) {
      return { message: `reason must be one of ${END_REASONS.join(', ')}` }
    }
    filters.reason = reason as EndReason
  }
  for (const name of DATE_FIELDS) {
    const raw = value(name)
    if (raw === undefined) continue
    const date = parseDate(raw)
    if (!date) {
      return {
        message: `${name} must be a date like 2026-11-23 or 2026-11-23T09:30:00Z (UTC unless a zone is given)`,
      }
    }
    filters[name] = date
  }
  const paged = parsePage(
    { limit: value('limit'), cursor: value('cursor') },
    { defaultLimit: DEFAULT_LIMIT, max: MAX_LIMIT },
  )
  if ('message' in paged) return paged
  filters.limit = paged.page.limit
  if (paged.page.cursor) filters.cursor = paged.page.cursor
  return { filters }
}

/**
 * The query string for the same filters (for links: next page, filter by user).
 *
 * @example
 * filterQuery({ user: 'alice', limit: 50 }, { cursor: 'abc' }) // '?user=alice&cursor=abc'
 */
export function filterQuery(filters: AdminFilters, extra: Record<string, string> = {}): string {
  const params = new URLSearchParams()
  if (filters.user !== undefined) params.set('user', filters.user)
  if (filters.live !== undefined) params.set('live', String(filters.live))
  if (filters.reason !== undefined) params.set('reason', filters.reason)
  for (const name of DATE_FIELDS) {
    const date = filters[name]
    if (date) params.set(name, date.toISOString())
  }
  if (filters.limit !== DEFAULT_LIMIT) params.set('limit', String(filters.limit))
  for (const [name, v] of Object.entries(extra)) params.set(name, v)
  const text = params.toString()
  return text ? `?${text}` : ''
}
