import type { Endings } from './ending.ts'
import { storedExpiry, storedSession } from './rules.ts'
import type { LoadedSession } from './session.ts'
import type { Expiry, SessionEnd } from './store.ts'
import type { EndReason } from './vocabulary.ts'

/** What the sweep needs: how to claim and end rows, what this instance knows of activity. */
export interface SweepParts {
  endings: Endings
  /** The ward's idle limit, for rows stored without their own (seconds). */
  expireAfter: number
  /** How far a row's activity may lag what some instance saw (touchInterval, seconds). */
  touchInterval: number
  /** The latest activity this instance knows for these hashes (its cache, the bus), ms. */
  knownActivity(tokenHashes: string[]): Promise<Map<string, number>>
}

/** How much one sweep round may do: rows per batch (one transaction), and time (ms). */
export interface SweepLimits {
  batch: number
  /** A round starts no new batch once this much time has passed since it began. */
  budget: number
  /**
   * Batches in flight at once (each its own transaction and pooled connection): while one
   * waits for the database or runs hooks, another is being written.
   */
  parallel: number
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
 * The ends the rules call for among claimed candidates, one per reason (and idle limit): each
 * candidate judged with the activity this instance knows. An idle end applies only while no
 * instance has written activity since the row was read.
 */
function plannedEnds(
  parts: SweepParts,
  candidates: LoadedSession[],
  known: Map<string, number>,
  now: number,
): SessionEnd[] {
  const margin = parts.touchInterval * 1000
  const endedAt = new Date()
  const groups = new Map<string, SessionEnd & { target: { ids: string[] } }>()
  for (const candidate of candidates) {
    const { record } = candidate
    const stored = storedSession(candidate, known.get(record.tokenHash) ?? 0, parts.expireAfter)
    const { expireAfter } = stored
    const reason: EndReason | null = storedExpiry(stored, now, margin)
    if (!reason) continue
    const key = reason === 'idle' ? `idle:${expireAfter}` : reason
    const group = groups.get(key) ?? {
      reason,
      endedAt,
      target: {
        ids: [],
        ...(reason === 'idle' ? { activeBefore: new Date(now - expireAfter * 1000 - margin) } : {}),
      },
    }
    group.target.ids.push(record.id)
    groups.set(key, group)
  }
  return [...groups.values()]
}

/**
 * One sweep round: ends the sessions expired at `now` (absolute, or idle past the limit in
 * force plus one write interval by their rows) with their reason, through the one end path
 * (hooks fire), batch after batch while a batch comes back full, until `limits.budget` runs
 * out, `limits.parallel` batches at a time. Each batch claims its rows in its own transaction,
 * skipping rows another batch or instance is sweeping, so batches and instances share a
 * backlog and each row ends once. Returns how many ended.
 *
 * @example
 * await sweep(parts, Date.now(), { batch: 1000, budget: 30_000, parallel: 2 })
 */
export async function sweep(parts: SweepParts, now: number, limits: SweepLimits): Promise<number> {
  const started = performance.now()
  let ended = 0
  const worker = async () => {
    for (;;) {
      let claimed = 0
      const records = await parts.endings.endClaimed(async (tx) => {
        const candidates = await tx.claimExpired(expiryAt(now, parts), limits.batch)
        claimed = candidates.length
        const hashes = candidates.map(({ record }) => record.tokenHash)
        return plannedEnds(parts, candidates, await parts.knownActivity(hashes), now)
      })
      ended += records.length
      // A short batch: nothing else is due. Nothing ended: what is left is spared (activity
      // this instance knows), and claiming it again would end nothing more.
      const more = claimed === limits.batch && records.length > 0
      if (!more || performance.now() - started >= limits.budget) return
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, limits.parallel) }, worker))
  return ended
}
