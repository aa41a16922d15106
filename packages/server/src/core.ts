import { randomUUID } from 'node:crypto'
import type { MikroORM } from '@mikro-orm/core'
import type { Context } from 'hono'
import type { HTTPException } from 'hono/http-exception'
import { type Problem, problemException } from './errors.ts'
import type { ResolvedOptions } from './options.ts'
import { resolvePolicy } from './options.ts'
import type { PageRequest } from './paging.ts'
import { PendingEnds } from './pending-ends.ts'
import { type EndNotice, RedisChannel } from './redis-channel.ts'
import { endsAt, expiryReason } from './rules.ts'
import {
  type LoadedSession,
  type SessionInfo,
  type SessionRecord,
  toSessionInfo,
} from './session.ts'
import { type CachedSession, SessionCache } from './session-cache.ts'
import { SessionWatchers } from './session-watchers.ts'
import {
  describeStoreError,
  type EndTarget,
  type Expiry,
  landedValue,
  type Page,
  type SessionEnd,
  STORE_RETRY_AFTER,
  type Statements,
  Store,
  StoreUnavailableError,
} from './store.ts'
import { createThrottles, type Throttles } from './throttle.ts'
import { generateToken, hashToken } from './tokens.ts'
import { setSessionCookie } from './transport.ts'
import { userAgentMatches } from './user-agent.ts'
import type { EndReason, SessionPolicy } from './vocabulary.ts'

/** The outcome of checking a token: a live session, or the problem to answer with. */
export type Authentication = { entry: CachedSession } | { problem: Problem }

/** What `createSession` gives the app's login route. */
export interface CreatedSession {
  /** The token to hand to the client. Shown once: only its hash is stored. */
  token: string
  session: SessionInfo
  /** Ids of the sessions this login evicted to stay within `maxSessions`. */
  evicted: string[]
}

// The background sweep ends at most this many sessions per round, so a backlog never holds
// the database long.
const SWEEP_BATCH = 500

// Ends kept for retrying while the store is out: enough for a burst of logouts, bounded so an
// outage cannot grow memory. Retried from half a second up to the Retry-After clients are told.
const MAX_PENDING_ENDS = 10_000
const PENDING_END_DELAYS = { minDelay: 500, maxDelay: STORE_RETRY_AFTER * 1000 }

/**
 * A single session to end for good: by id (of a user), or by the hash of its token; a token
 * hash given with an id is where a retried logout finds the pending end.
 */
export type EndOne = { id: string; userId?: string; tokenHash?: string } | { tokenHash: string }

// Stored user agents are capped: the binding needs the browser's identity, not 10 KB of header.
const MAX_USER_AGENT = 512

function userAgentOf(c: Context): string {
  return (c.req.header('user-agent') ?? '').slice(0, MAX_USER_AGENT)
}

/** The 401 `session_ended` answer for a session that ended with `reason`. */
export function ended(reason: EndReason | null): Problem {
  return {
    status: 401,
    error: 'session_ended',
    message: `the session has ended (${reason ?? 'revoked'})`,
    extra: { reason: reason ?? 'revoked' },
    invalidToken: true,
  }
}

/**
 * Throws a TypeError naming `caller` unless `userId` is a string of 1 to 255 characters (what
 * the user_id column holds).
 *
 * @example
 * checkUserId(userId, 'listSessions')
 */
export function checkUserId(userId: unknown, caller: string): asserts userId is string {
  if (typeof userId !== 'string' || userId === '' || userId.length > 255) {
    throw new TypeError(`sessionward: ${caller} needs a userId string of 1 to 255 characters`)
  }
}

/** The unknown-token answer; the same whatever the token, so it reveals nothing. */
export const UNKNOWN_TOKEN: Problem = {
  status: 401,
  error: 'unauthenticated',
  message: 'unknown or malformed session token',
  invalidToken: true,
}

/**
 * The state one ward shares between its middleware, routes and API: options, database and
 * process cache, and the session lifecycle built on them.
 */
export class WardCore {
  readonly options: ResolvedOptions
  readonly orm: MikroORM
  /** Every statement this ward sends, bounded by its storeTimeout. */
  readonly store: Store
  /** The open `/session/events` streams of this instance. */
  readonly watchers = new SessionWatchers()
  readonly #cache: SessionCache<Context>
  /** Ends and activity shared with the other instances; null without the `redis` option. */
  readonly #channel: RedisChannel | null
  /** Activity writes in flight: no request waits for them, `close()` does. */
  readonly #writing = new Set<Promise<void>>()
  /** Logouts and revokes the store could not take yet: refused here, retried until it does. */
  readonly #pendingEnds: PendingEnds

  /**
   * The guess counters (`throttle`), on the channel's Redis client when there is one, so every
   * instance counts the same failures.
   */
  readonly throttles: Throttles

  constructor(options: ResolvedOptions, orm: MikroORM) {
    this.options = options
    this.orm = orm
    this.store = new Store(orm, options.storeTimeout)
    this.#channel = options.redis
      ? new RedisChannel(
          options.redis,
          {
            ended: ({ tokenHash, sessionId, reason, endedAt }) =>
              this.#cache.markEnded(tokenHash, sessionId, reason, new Date(endedAt)),
            activity: (tokenHash, at) => this.#cache.noteActivity(tokenHash, at),
            rotated: (oldHash, newHash) => this.#cache.rotate(oldHash, newHash),
          },
          options.logger,
        )
      : null
    this.throttles = createThrottles(options.throttle, this.#channel?.client ?? null)
    this.#cache = new SessionCache(
      {
        max: options.cacheSize,
        ttl: options.cacheTtl * 1000,
        touchInterval: options.touchInterval * 1000,
      },
      {
        read: (tokenHash) => this.store.findByTokenHash(tokenHash),
        policy: (loaded, c) => this.#policyInForce(loaded, c),
        writeActivity: (session, userAgent) =>
          this.store.writeActivity(session.id, session.lastActivityAt, session.lastIp, userAgent),
        onEnded: (sessionId, reason) => this.watchers.ended(sessionId, reason),
        onPolicyChanged: (sessionId, policy) => this.watchers.policyChanged(sessionId, policy),
      },
    )
    this.#pendingEnds = new PendingEnds({
      ...PENDING_END_DELAYS,
      max: MAX_PENDING_ENDS,
      end: async ({ target, reason, endedAt }) =>
        void (await this.#end({ target, reason, endedAt, again: true })),
      warn: (message) => options.logger.warn(message),
    })
  }

  /** The per-user settings: `policy(userId, c)` over the ward's options, validated. */
  async policyFor(userId: string, c: Context): Promise<SessionPolicy> {
    const { policy } = this.options
    if (!policy) return this.options
    return resolvePolicy(await policy(userId, c), this.options, `policy(${JSON.stringify(userId)})`)
  }

  /**
   * The policy in force for a session loaded into the cache: `policy()` asked once per load, its
   * limits recorded in the row when they differ from what it holds, so the sweep, the cap and
   * the live views judge the session by the same limits as its requests (issue 20, defect 3).
   */
  async #policyInForce(loaded: LoadedSession, c: Context): Promise<SessionPolicy> {
    const { record, expireAfter } = loaded
    const policy = await this.policyFor(record.userId, c)
    const shortened = endsAt(record, policy) < record.expiresAt.getTime()
    if (policy.expireAfter !== expireAfter || shortened) {
      this.#track(this.store.recordLimits(record.id, policy), 'record the session policy')
    }
    return policy
  }

  /**
   * The fast path: the cached session when it is fresh (within cacheTtl), not due to end and
   * seen from the same user agent. Synchronous, no database; anything else goes to
   * `authenticate`.
   */
  cachedSession(c: Context, tokenHash: string, now: number): CachedSession | undefined {
    const entry = this.#cache.fresh(tokenHash, now)
    if (!entry) return undefined
    if (expiryReason(entry.session, now, entry.policy) !== null) return undefined
    const userAgent = userAgentOf(c)
    if (userAgent !== entry.session.userAgent) return undefined
    return entry
  }

  /**
   * Checks a token hash: cache first (no database read on a hit), ended and expired sessions
   * ended once, user-agent binding enforced.
   */
  async authenticate(c: Context, tokenHash: string, now = Date.now()): Promise<Authentication> {
    // Asked to end and not yet stored: refused here, whatever the store says meanwhile.
    const pending = this.#pendingEnds.end(`hash:${tokenHash}`)
    if (pending) return { problem: ended(pending.reason) }
    const found = await this.#cache.lookup(tokenHash, now, c)
    if (found.kind === 'unknown') return { problem: UNKNOWN_TOKEN }
    if (found.kind === 'ended') return { problem: ended(found.reason) }
    const { entry } = found
    const pendingById = this.#pendingEnds.end(`id:${entry.session.id}`)
    if (pendingById && ownedBy(pendingById.target, entry.session.userId)) {
      this.#cache.markEnded(tokenHash, entry.session.id, pendingById.reason, null)
      return { problem: ended(pendingById.reason) }
    }
    let reason = expiryReason(entry.session, now, entry.policy)
    if (reason === 'idle' && this.#channel) {
      // Activity another instance saw and has not written yet counts too.
      await this.#takeSharedActivity([tokenHash])
      reason = expiryReason(entry.session, now, entry.policy)
    }
    if (reason === 'idle' && entry.checkedAt < now) {
      // Never end for idleness on stale data: another instance may have seen activity.
      const fresh = await this.store.findById(entry.session.id)
      if (!fresh || fresh.endedAt) {
        const known = fresh?.endReason ?? 'revoked'
        this.#cache.markEnded(tokenHash, entry.session.id, known, fresh?.endedAt ?? null)
        return { problem: ended(known) }
      }
      this.#cache.update(entry, fresh, entry.policy, now)
      reason = expiryReason(entry.session, now, entry.policy)
    }
    if (reason) {
      await this.end({ ids: [entry.session.id] }, reason)
      return { problem: ended(reason) }
    }
    const userAgent = userAgentOf(c)
    if (!userAgentMatches(entry.session.userAgent, userAgent, this.options.userAgentBinding)) {
      const detail = `user agent changed from ${JSON.stringify(entry.session.userAgent)} to ${JSON.stringify(userAgent)}`
      await this.end({ ids: [entry.session.id] }, 'user_agent_changed', detail)
      return { problem: ended('user_agent_changed') }
    }
    // Passed the binding with another string (a browser update): parse it once, not per request.
    if (userAgent !== entry.session.userAgent) this.#cache.adoptUserAgent(entry, userAgent)
    return { entry }
  }

  /**
   * Moves a cached session to its new token hash (token rotation), so the old token stops
   * hitting the cache at once instead of after cacheTtl, here and (with Redis) everywhere.
   */
  rekey(oldHash: string, newHash: string): void {
    this.#cache.rotate(oldHash, newHash)
    this.#channel?.publishRotation(oldHash, newHash)
  }

  /**
   * Records user activity at `at` (see `SessionCache.recordActivity`). Never awaited: no
   * answer waits for an activity write. A failed write is logged once (no token, no hash); the
   * cache keeps the activity and the next request writes again.
   */
  recordActivity(entry: CachedSession, at: number, ip: string | undefined): void {
    const before = entry.session.lastActivityAt
    const write = this.#cache.recordActivity(entry, at, ip)
    // A new Date means the activity moved (at most once a second): the others hear of it.
    if (this.#channel && entry.session.lastActivityAt !== before) {
      this.#channel.noteActivity(entry.tokenHash, entry.session.lastActivityAt.getTime())
    }
    if (write) this.#track(write, 'record activity')
  }

  /**
   * Keeps a write no answer waits for until it settles (`close()` waits for it); a failure is
   * logged once, without token or hash.
   */
  #track(write: Promise<void>, what: string): void {
    const logged = write
      .catch((error: unknown) => {
        this.options.logger.warn(`sessionward: could not ${what}: ${describeStoreError(error)}`)
      })
      .finally(() => this.#writing.delete(logged))
    this.#writing.add(logged)
  }

  /** Waits for the activity writes in flight (each bounded by storeTimeout), as on close. */
  async settle(): Promise<void> {
    await Promise.all(this.#writing)
  }

  /**
   * Ends the event streams, waits for activity writes in flight and leaves Redis (a client the
   * app passed in stays open).
   */
  async close(): Promise<void> {
    this.watchers.closeAll()
    await this.settle()
    await this.#channel?.close()
  }

  /** Why the session of this hash ended, when this instance knows it ended. */
  endedReason(tokenHash: string): EndReason | undefined {
    return this.#cache.endedReason(tokenHash)
  }

  /**
   * Ends the targeted live sessions with a reason: each is ended once (whoever races), dropped
   * from the cache, reported to `onSessionEnd` and trimmed from the log per `logLimit`.
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
   * reason, the end landed and is announced; otherwise it answers 503.
   */
  async #end(end: SessionEnd): Promise<SessionRecord[]> {
    const settled = await this.store.transaction((tx) => this.#endIn(tx, end))
    const records = await landedValue(settled, (ended) =>
      this.#endLanded(ended, end.reason, end.endedAt),
    )
    await this.#afterEnd(records, end.reason)
    return records
  }

  /** Whether an end (these rows, ended at `endedAt` with `reason`) landed, by the rows' ids. */
  async #endLanded(records: SessionRecord[], reason: EndReason, endedAt: Date): Promise<boolean> {
    // Nothing to end: whatever the COMMIT did, nothing changed.
    if (records.length === 0) return true
    const stored = await this.store.findByIds(records.map((record) => record.id))
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
      if (!(error instanceof StoreUnavailableError && error.retryable)) throw error
      const key = one.tokenHash ? `hash:${one.tokenHash}` : `id:${(one as { id: string }).id}`
      // Retried with the same endedAt: if this attempt's COMMIT landed after all, the retry
      // recognises the rows it ended (see `#end`).
      this.#pendingEnds.add(key, { target, reason, endedAt })
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

  /** The token hashes (with their session ids) this instance knows for `one`. */
  #knownSessions(one: EndOne): [tokenHash: string, sessionId: string][] {
    const known = new Map<string, string>()
    if ('id' in one)
      for (const hash of this.#cache.hashesOf(one.id, one.userId)) known.set(hash, one.id)
    const id = 'id' in one ? one.id : one.tokenHash && this.#cache.peek(one.tokenHash)?.session.id
    if (one.tokenHash && id) known.set(one.tokenHash, id)
    return [...known]
  }

  /**
   * Resolves once the end kept for this token (if any) is stored; throws while the store is
   * still out. A retried logout is confirmed only then.
   */
  async confirmEnd(tokenHash: string): Promise<void> {
    await this.#pendingEnds.flush(`hash:${tokenHash}`)
  }

  /** Drops the ends still waiting for the store (on close), saying how many in one line. */
  dropPendingEnds(): void {
    const dropped = this.#pendingEnds.clear()
    if (dropped > 0) {
      this.options.logger.warn(
        `sessionward: closed with ${dropped} session end(s) the store never took; those sessions may be live again`,
      )
    }
  }

  /**
   * Ends sessions and trims their users' logs inside the caller's transaction: one commit for
   * both, so keeping the log short costs no extra round trip to disk.
   */
  async #endIn(tx: Statements, end: SessionEnd): Promise<SessionRecord[]> {
    const records = await tx.endSessions(end)
    const { logLimit } = this.options
    if (logLimit !== null) {
      for (const userId of new Set(records.map((record) => record.userId))) {
        await tx.pruneLog(userId, logLimit)
      }
    }
    return records
  }

  /** Tells the other instances (with Redis), then this one's cache, that these sessions ended. */
  #announce(notices: EndNotice[]): void {
    this.#channel?.publishEnds(notices)
    for (const { tokenHash, sessionId, reason, endedAt } of notices) {
      this.#cache.markEnded(tokenHash, sessionId, reason, new Date(endedAt))
    }
  }

  async #afterEnd(records: SessionRecord[], reason: EndReason): Promise<void> {
    // Every instance hears of the ends before this one's hooks run.
    this.#announce(records.map((record) => endNotice(record, reason)))
    for (const record of records) {
      await this.#callHook('onSessionEnd', () =>
        this.options.hooks.onSessionEnd?.(toSessionInfo(record), reason),
      )
    }
  }

  async #callHook(name: string, call: () => void | Promise<void>): Promise<void> {
    try {
      await call()
    } catch (error) {
      // An audit hook must never break a login, a logout or a request.
      this.options.logger.error(`sessionward: hooks.${name} threw`, error)
    }
  }

  /**
   * Splits a user's live rows (most recently active first) into the live ones and the expired
   * ones by reason, under the user's current policy. Activity is the freshest known: this
   * cache's, else the row's plus one write interval that another instance may not have
   * written yet.
   */
  #sortOut(
    rows: SessionRecord[],
    policy: SessionPolicy,
    now: number,
  ): { live: SessionRecord[]; expired: Map<EndReason, string[]> } {
    const live: SessionRecord[] = []
    const expired = new Map<EndReason, string[]>()
    for (const row of rows) {
      const reason = expiryReason(this.#freshest(row), now, policy)
      if (reason) expired.set(reason, [...(expired.get(reason) ?? []), row.id])
      else live.push(this.#withCachedActivity(row))
    }
    // Most recently active first by the freshest activity; ties: the newest created first, so
    // evict-oldest takes the oldest created (docs/decisions.md).
    live.sort(
      (x, y) =>
        y.lastActivityAt.getTime() - x.lastActivityAt.getTime() ||
        y.createdAt.getTime() - x.createdAt.getTime(),
    )
    return { live, expired }
  }

  /** A row with this instance's activity when it is later than the row's. */
  #withCachedActivity(row: SessionRecord): SessionRecord {
    const known = this.#cache.latestActivity(row.tokenHash)
    return known > row.lastActivityAt.getTime() ? { ...row, lastActivityAt: new Date(known) } : row
  }

  /** A row with the freshest activity known for it (see `#sortOut`). */
  #freshest(row: SessionRecord): SessionRecord {
    const known = this.#cache.latestActivity(row.tokenHash)
    const margin = this.options.touchInterval * 1000
    const lastActivityAt = Math.max(known, row.lastActivityAt.getTime() + margin)
    return { ...row, lastActivityAt: new Date(lastActivityAt) }
  }

  /**
   * One page of a user's live sessions (the devices list, `ward.listSessions`), newest login
   * first: expired ones not yet swept are left out, activity is this cache's when fresher than
   * the row's, and the token hash is dropped.
   */
  async liveSessions(
    userId: string,
    page: PageRequest,
    now = Date.now(),
  ): Promise<Page<SessionInfo>> {
    const { rows, next } = await this.store.listLivePage(userId, this.expiry(now), page)
    return { rows: rows.map((row) => toSessionInfo(this.#withCachedActivity(row))), next }
  }

  /** What SQL needs to tell expired rows at `now` (see `expiredCondition`). */
  expiry(now: number): Expiry {
    const { expireAfter, touchInterval } = this.options
    return { now: new Date(now), expireAfter, margin: touchInterval }
  }

  /**
   * Ends up to `limit` expired sessions (absolute, or idle past expireAfter plus one write
   * interval by their rows) with their reason; hooks fire. A session this instance has seen
   * active since is spared, and so is one whose row was written meanwhile. Returns how many
   * ended.
   */
  async sweep(now = Date.now(), limit = SWEEP_BATCH): Promise<number> {
    const { expireAfter, touchInterval } = this.options
    const expiry = this.expiry(now)
    const groups = new Map<string, { reason: EndReason; target: EndTarget }>()
    const candidates = await this.store.listExpired(expiry, limit)
    await this.#takeSharedActivity(candidates.map(({ record }) => record.tokenHash))
    for (const { record, expireAfter: own } of candidates) {
      const rowExpireAfter = own ?? expireAfter
      // The row's own limits: the absolute end it was given, the idle limit it logged in with.
      const reason = expiryReason(this.#freshest(record), now, {
        expireAfter: rowExpireAfter,
        maxAge: Number.POSITIVE_INFINITY,
      })
      if (!reason) continue
      const key = reason === 'idle' ? `idle:${rowExpireAfter}` : reason
      const group = groups.get(key) ?? {
        reason,
        // Idle ends only while no instance has written activity since the row was read.
        target: {
          ids: [],
          ...(reason === 'idle'
            ? { activeBefore: new Date(now - (rowExpireAfter + touchInterval) * 1000) }
            : {}),
        },
      }
      if ('ids' in group.target) group.target.ids.push(record.id)
      groups.set(key, group)
    }
    let ended = 0
    for (const { reason, target } of groups.values()) {
      ended += (await this.end(target, reason)).length
    }
    return ended
  }

  /** Takes in the activity other instances published for these hashes (with Redis only). */
  async #takeSharedActivity(tokenHashes: string[]): Promise<void> {
    if (!this.#channel) return
    for (const [tokenHash, at] of await this.#channel.latestActivity(tokenHashes)) {
      this.#cache.noteActivity(tokenHash, at)
    }
  }

  /** Starts a session for `userId` (see `Ward.createSession`). */
  async createSession(c: Context, userId: string): Promise<CreatedSession> {
    checkUserId(userId, 'createSession')
    const policy = await this.policyFor(userId, c)
    const now = new Date()
    const token = generateToken()
    const ip = this.options.clientIp(c) ?? null
    const record: SessionRecord = {
      id: randomUUID(),
      userId,
      tokenHash: hashToken(token),
      createdAt: now,
      lastActivityAt: now,
      expiresAt: new Date(now.getTime() + policy.maxAge * 1000),
      endedAt: null,
      endReason: null,
      ip,
      lastIp: ip,
      userAgent: userAgentOf(c),
      detail: null,
    }
    const endedBefore: { records: SessionRecord[]; reason: EndReason }[] = []
    const settled = await this.store.transaction(async (tx) => {
      let victims: SessionRecord[] = []
      if (policy.maxSessions > 0) {
        // Serializes this user's logins so N concurrent logins cannot all see room for one more.
        await tx.lockUser(userId)
        const { live, expired } = this.#sortOut(await tx.listLive(userId), policy, now.getTime())
        // Expired sessions end with their true reason, and never count against the cap.
        for (const [reason, ids] of expired) {
          const records = await this.#endIn(tx, { target: { ids }, reason, endedAt: now })
          endedBefore.push({ reason, records })
        }
        const excess = live.length + 1 - policy.maxSessions
        if (excess > 0) {
          if (policy.onLimit === 'deny') throw sessionLimit(policy.maxSessions)
          const leastRecentlyActive = live.slice(-excess).map((session) => session.id)
          victims = await this.#endIn(tx, {
            target: { ids: leastRecentlyActive },
            reason: 'evicted',
            endedAt: now,
          })
        }
      }
      await tx.insertSession(record, policy.expireAfter)
      return victims
    })
    // COMMIT's answer lost: the login (and the ends it made) landed if its row is there.
    const evicted = await landedValue(
      settled,
      async () => (await this.store.findById(record.id)) !== null,
    )
    for (const { records, reason } of endedBefore) await this.#afterEnd(records, reason)
    await this.#afterEnd(evicted, 'evicted')
    const session = toSessionInfo(record)
    this.#cache.add(record.tokenHash, session, policy, now.getTime())
    setSessionCookie(c, this.options, token, policy.maxAge)
    // The app's login answer carries the token (body or cookie): no cache may keep it.
    c.header('Cache-Control', 'no-store')
    await this.#callHook('onSessionStart', () => this.options.hooks.onSessionStart?.(session, c))
    return { token, session, evicted: evicted.map((victim) => victim.id) }
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

function sessionLimit(maxSessions: number): HTTPException {
  return problemException({
    status: 403,
    error: 'session_limit',
    message: `this account already has ${maxSessions} active session${maxSessions === 1 ? '' : 's'}; sign out elsewhere first`,
  })
}
