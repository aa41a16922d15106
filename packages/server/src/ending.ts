import type { Bus, EndNotice } from './bus.ts'
import type { ResolvedOptions } from './options.ts'
import { PendingEnds } from './pending-ends.ts'
import { STORE_RETRY_AFTER } from './problems.ts'
import { type SessionInfo, type SessionRecord, toSessionInfo } from './session.ts'
import type { SessionCache } from './session-cache.ts'
import {
  type EndTarget,
  landedValue,
  type NewSession,
  type SessionEnd,
  type Statements,
  type Store,
  StoreFailure,
} from './store.ts'
import type { EndReason } from './vocabulary.ts'

// The one end path: every session that ends (a logout, a revoke, an expiry, an eviction, the
// sweep, an admin) ends here, so each end is stored once, reaches this instance's cache and
// every other instance (the bus), then the hooks, in that order.

// Ends kept for retrying while the store is out: enough for a burst of logouts, bounded so an
// outage cannot grow memory. Retried from half a second up to the Retry-After clients are told.
const MAX_PENDING_ENDS = 10_000
const PENDING_END_DELAYS = { minDelay: 500, maxDelay: STORE_RETRY_AFTER * 1000 }

// Users whose logs one trim statement handles: a bounded statement (and parameter list).
const TRIM_USERS_PER_STATEMENT = 1000

/**
 * A single session to end for good: by id (of a user), or by the hash of its token; a token
 * hash given with an id is where a retried logout finds the pending end.
 */
export type EndOne = { id: string; userId?: string; tokenHash?: string } | { tokenHash: string }

/** What ending needs of the ward: its store, its cache, its bus (if any) and its options. */
export interface EndingParts {
  options: Pick<ResolvedOptions, 'logLimit' | 'hooks' | 'logger'>
  store: Store
  cache: SessionCache<unknown>
  channel: Bus | null
}

/**
 * Calls an app's hook; a hook that throws is logged and never breaks a login, a logout or a
 * request.
 *
 * @example
 * await callHook(logger, 'onSessionStart', () => hooks.onSessionStart?.(session, c))
 */
export async function callHook(
  logger: Pick<ResolvedOptions['logger'], 'error'>,
  name: string,
  call: () => void | Promise<void>,
): Promise<void> {
  try {
    await call()
  } catch (error) {
    logger.error(`sessionward: hooks.${name} threw`, error)
  }
}

/** Ends sessions for good, once each, and tells everyone who must know. */
export class Endings {
  readonly #parts: EndingParts
  /** Logouts and revokes the store could not take yet: refused here, retried until it does. */
  readonly #pending: PendingEnds

  constructor(parts: EndingParts) {
    this.#parts = parts
    this.#pending = new PendingEnds({
      ...PENDING_END_DELAYS,
      max: MAX_PENDING_ENDS,
      end: async ({ target, reason, endedAt }) =>
        void (await this.#end({ target, reason, endedAt, again: true })),
      warn: (message) => parts.options.logger.warn(message),
    })
  }

  /**
   * Ends the targeted live sessions with a reason: each is ended once (whoever races), dropped
   * from the cache, announced to the other instances, reported to `onSessionEnd` and trimmed
   * from the log per `logLimit`.
   */
  async end(
    target: EndTarget,
    reason: EndReason,
    detail: string | null = null,
  ): Promise<SessionRecord[]> {
    return this.#end({ target, reason, endedAt: new Date(), detail })
  }

  /**
   * `end` at a given time; `again` for a retry of that end (see `SessionEnd`). When the
   * COMMIT's answer is lost, the rows are read back by id: ended with this `endedAt` and
   * reason, the end landed and is announced; otherwise it fails as the store did.
   */
  async #end(end: SessionEnd): Promise<SessionRecord[]> {
    const settled = await this.#parts.store.transaction((tx) => this.endIn(tx, end))
    const records = await landedValue(settled, (ended) =>
      this.#endLanded(ended, end.reason, end.endedAt),
    )
    await this.afterEnd(records, end.reason)
    return records
  }

  /**
   * Ends what `claim` chooses in one transaction (it may read and lock rows first): each of its
   * ends as `endIn` does, committed together, then announced with their hooks. When the
   * COMMIT's answer is lost, the rows are read back as in `end`. Returns every row it ended.
   * The logs are left to `trimLogsEndedSince`, which the sweep runs once per round.
   */
  async endClaimed(claim: (tx: Statements) => Promise<SessionEnd[]>): Promise<SessionRecord[]> {
    const settled = await this.#parts.store.transaction(async (tx) => {
      const ended: { end: SessionEnd; records: SessionRecord[] }[] = []
      for (const end of await claim(tx)) {
        ended.push({ end, records: await this.endIn(tx, end, false) })
      }
      return ended
    })
    // One transaction: any group that landed says they all did.
    const done = await landedValue(settled, async (ended) => {
      const group = ended.find(({ records }) => records.length > 0)
      return !group || this.#endLanded(group.records, group.end.reason, group.end.endedAt)
    })
    for (const { end, records } of done) await this.afterEnd(records, end.reason)
    return done.flatMap(({ records }) => records)
  }

  /** Whether an end (these rows, ended at `endedAt` with `reason`) landed, by the rows' ids. */
  async #endLanded(records: SessionRecord[], reason: EndReason, endedAt: Date): Promise<boolean> {
    // Nothing to end: whatever the COMMIT did, nothing changed.
    if (records.length === 0) return true
    const stored = await this.#parts.store.findByIds(records.map((record) => record.id))
    return stored.some(
      (row) => row.endReason === reason && row.endedAt?.getTime() === endedAt.getTime(),
    )
  }

  /**
   * Ends one session for good (a logout, a revoke): when the store cannot take it now, this
   * instance refuses the session at once and keeps the end, retrying it in the background until
   * the database takes it, so a recovery never revives a session the user ended. The store's
   * failure is still thrown: the answer stays 503 with Retry-After and the client retries.
   */
  async endForGood(one: EndOne, reason: EndReason): Promise<SessionRecord[]> {
    const target: EndTarget =
      'id' in one ? { ids: [one.id], userId: one.userId } : { tokenHash: one.tokenHash }
    const endedAt = new Date()
    try {
      return await this.#end({ target, reason, endedAt })
    } catch (error) {
      if (!(error instanceof StoreFailure && error.retryable)) throw error
      const key = one.tokenHash ? `hash:${one.tokenHash}` : `id:${(one as { id: string }).id}`
      // Retried with the same endedAt: if this attempt's COMMIT landed after all, the retry
      // recognises the rows it ended (see `#end`).
      this.#pending.add(key, { target, reason, endedAt })
      // Refused here, and (with Redis) on the other instances, from now on, even when the set
      // is full (then only the client's retry stores it). The end is not stored yet.
      this.#announce(
        this.#knownSessions(one).map(([tokenHash, sessionId]) => ({
          sessionId,
          tokenHash,
          reason,
          endedAt: endedAt.getTime(),
        })),
      )
      throw error
    }
  }

  /**
   * The reason of an end asked for and not stored yet that applies to this token or session:
   * such a session is refused here, whatever the store says meanwhile.
   */
  pendingReason(tokenHash: string, session?: Pick<SessionInfo, 'id' | 'userId'>): EndReason | null {
    const byHash = this.#pending.end(`hash:${tokenHash}`)
    if (byHash) return byHash.reason
    if (!session) return null
    const byId = this.#pending.end(`id:${session.id}`)
    if (!byId || !ownedBy(byId.target, session.userId)) return null
    this.#parts.cache.markEnded(tokenHash, session.id, byId.reason, null)
    return byId.reason
  }

  /** The token hashes (with their session ids) this instance knows for `one`. */
  #knownSessions(one: EndOne): [tokenHash: string, sessionId: string][] {
    const { cache } = this.#parts
    const known = new Map<string, string>()
    if ('id' in one) for (const hash of cache.hashesOf(one.id, one.userId)) known.set(hash, one.id)
    const id = 'id' in one ? one.id : one.tokenHash && cache.peek(one.tokenHash)?.session.id
    if (one.tokenHash && id) known.set(one.tokenHash, id)
    return [...known]
  }

  /**
   * Resolves once the end kept for this token (if any) is stored; throws while the store is
   * still out. A retried logout is confirmed only then.
   */
  async confirm(tokenHash: string): Promise<void> {
    await this.#pending.flush(`hash:${tokenHash}`)
  }

  /** Drops the ends still waiting for the store (on close), saying how many in one line. */
  dropPending(): void {
    const dropped = this.#pending.clear()
    if (dropped > 0) {
      this.#parts.options.logger.warn(
        `sessionward: closed with ${dropped} session end(s) the store never took; those sessions may be live again`,
      )
    }
  }

  /**
   * Ends sessions and (unless `trim` is false) trims their users' logs inside the caller's
   * transaction: one commit for both, so keeping the log short costs no extra round trip to
   * disk. Sign-in passes false: its ends are trimmed by the next sweep round (see
   * `trimLogsEndedSince`), off the login path, and store their new session with the end
   * (`started`, see `endSessions`). The caller announces what committed with `afterEnd`.
   */
  async endIn(
    tx: Statements,
    end: SessionEnd,
    trim = true,
    started?: NewSession,
  ): Promise<SessionRecord[]> {
    const records = await tx.endSessions(end, started)
    // A bus in the database sends the ends with this transaction: heard only if it commits.
    if (records.length > 0) {
      await this.#parts.channel?.sendEndsIn(
        tx,
        records.map((record) => endNotice(record, end.reason)),
      )
    }
    const { logLimit } = this.#parts.options
    if (trim && logLimit !== null) {
      await tx.pruneLogs([...new Set(records.map((record) => record.userId))], logLimit)
    }
    return records
  }

  /**
   * Trims the logs of every user with a session ended at or after `since` (by any instance) to
   * `logLimit`, a bounded number of users per statement. Returns how many rows it deleted.
   */
  async trimLogsEndedSince(since: Date): Promise<number> {
    const { logLimit } = this.#parts.options
    if (logLimit === null) return 0
    const { store } = this.#parts
    const users = await store.usersEndedSince(since)
    let deleted = 0
    for (let start = 0; start < users.length; start += TRIM_USERS_PER_STATEMENT) {
      deleted += await store.pruneLogs(
        users.slice(start, start + TRIM_USERS_PER_STATEMENT),
        logLimit,
      )
    }
    return deleted
  }

  /** The log limit of the ward's options (null: logs kept whole). */
  get logLimit(): number | null {
    return this.#parts.options.logLimit
  }

  /**
   * The bus payload of each of these ends, for a statement that ends the rows and sends each one
   * itself (see `Bus.endPayloads`): nulls without a bus in the database.
   */
  endPayloads(
    ends: { record: SessionRecord; reason: EndReason }[],
    endedAt: Date,
  ): (string | null)[] {
    const notices = ends.map(({ record, reason }) => endNotice({ ...record, endedAt }, reason))
    return this.#parts.channel?.endPayloads(notices) ?? notices.map(() => null)
  }

  /** Tells the other instances (the bus), then this one's cache, that these sessions ended. */
  #announce(notices: EndNotice[]): void {
    this.#parts.channel?.publishEnds(notices)
    for (const { tokenHash, sessionId, reason, endedAt } of notices) {
      this.#parts.cache.markEnded(tokenHash, sessionId, reason, new Date(endedAt))
    }
  }

  /** Announces ends that committed, then runs the hooks: every instance hears first. */
  async afterEnd(records: SessionRecord[], reason: EndReason): Promise<void> {
    this.#announce(records.map((record) => endNotice(record, reason)))
    const { hooks, logger } = this.#parts.options
    for (const record of records) {
      await callHook(logger, 'onSessionEnd', () =>
        hooks.onSessionEnd?.(toSessionInfo(record), reason),
      )
    }
  }
}

function endNotice(record: SessionRecord, reason: EndReason): EndNotice {
  const endedAt = record.endedAt?.getTime() ?? Date.now()
  return { sessionId: record.id, tokenHash: record.tokenHash, reason, endedAt }
}

/** Whether a pending end's target may apply to a session of `userId`. */
function ownedBy(target: EndTarget, userId: string): boolean {
  return !('userId' in target) || target.userId === undefined || target.userId === userId
}
