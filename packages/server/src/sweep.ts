import type { Endings } from './ending.ts'
import { storedExpiry, storedSession } from './rules.ts'
import type { EndTarget, Expiry, Store } from './store.ts'
import type { EndReason } from './vocabulary.ts'

/** What the sweep needs: where rows are, how to end them, what this instance knows of activity. */
export interface SweepParts {
  store: Store
  endings: Endings
  /** The ward's idle limit, for rows stored without their own (seconds). */
  expireAfter: number
  /** How far a row's activity may lag what some instance saw (touchInterval, seconds). */
  touchInterval: number
  /** The latest activity this instance knows for these hashes (its cache, the bus), ms. */
  knownActivity(tokenHashes: string[]): Promise<Map<string, number>>
}

/**
 * What SQL needs to tell expired rows at `now` (see `expiredCondition`): the time, the ward's
 * idle limit for rows without their own, and the write margin.
 *
 * @example
 * store.listLivePage(userId, expiryAt(now, options), page)
 */
export function expiryAt(
  now: number,
  limits: Pick<SweepParts, 'expireAfter' | 'touchInterval'>,
): Expiry {
  return { now: new Date(now), expireAfter: limits.expireAfter, margin: limits.touchInterval }
}

/**
 * Ends up to `limit` expired sessions (absolute, or idle past the limit in force plus one write
 * interval by their rows) with their reason, through the one end path (hooks fire). The rules
 * judge each candidate with the activity this instance knows; an idle end applies only while no
 * instance has written activity since the row was read. Returns how many ended.
 *
 * @example
 * await sweep(parts, Date.now(), 500)
 */
export async function sweep(parts: SweepParts, now: number, limit: number): Promise<number> {
  const candidates = await parts.store.listExpired(expiryAt(now, parts), limit)
  const known = await parts.knownActivity(candidates.map(({ record }) => record.tokenHash))
  const margin = parts.touchInterval * 1000
  const groups = new Map<string, { reason: EndReason; target: EndTarget }>()
  for (const candidate of candidates) {
    const { record } = candidate
    const stored = storedSession(candidate, known.get(record.tokenHash) ?? 0, parts.expireAfter)
    const { expireAfter } = stored
    const reason = storedExpiry(stored, now, margin)
    if (!reason) continue
    const key = reason === 'idle' ? `idle:${expireAfter}` : reason
    const group = groups.get(key) ?? {
      reason,
      // Idle ends only while no instance has written activity since the row was read.
      target: {
        ids: [],
        ...(reason === 'idle' ? { activeBefore: new Date(now - expireAfter * 1000 - margin) } : {}),
      },
    }
    if ('ids' in group.target) group.target.ids.push(record.id)
    groups.set(key, group)
  }
  let ended = 0
  for (const { reason, target } of groups.values()) {
    ended += (await parts.endings.end(target, reason)).length
  }
  return ended
}
