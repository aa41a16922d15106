import { randomUUID } from 'node:crypto'
import type { MikroORM } from '@mikro-orm/core'
import type { EntityManager } from '@mikro-orm/sql'
import type { Context } from 'hono'
import { HTTPException } from 'hono/http-exception'
import { LRUCache } from 'lru-cache'
import type { Problem } from './errors.ts'
import type { EndReason, ResolvedOptions, SessionPolicy } from './options.ts'
import { activityWriteInterval, resolvePolicy } from './options.ts'
import { expiryReason, type SessionInfo, type SessionRecord, toSessionInfo } from './session.ts'
import {
  type EndTarget,
  endSessions,
  findById,
  findByTokenHash,
  fork,
  insertSession,
  listLive,
  lockUser,
  pruneLog,
  storeError,
  writeActivity,
} from './store.ts'
import { generateToken, hashToken } from './tokens.ts'
import { setSessionCookie } from './transport.ts'
import { userAgentMatches } from './user-agent.ts'

/** A session held in the process cache, keyed by token hash; it carries the freshest activity. */
export interface CacheEntry {
  /** What `c.var.session` shows: kept without the token hash, so no copy is made per request. */
  session: SessionInfo
  policy: SessionPolicy
  /** When the row was last read from the database (ms). */
  checkedAt: number
  /** The last activity time last written to (or read from) the database (ms). */
  persistedActivityAt: number
}

/** The outcome of checking a token: a live session, or the problem to answer with. */
export type Authentication = { entry: CacheEntry } | { problem: Problem }

/** What `createSession` gives the app's login route. */
export interface CreatedSession {
  /** The token to hand to the client. Shown once: only its hash is stored. */
  token: string
  session: SessionInfo
  /** Ids of the sessions this login evicted to stay within `maxSessions`. */
  evicted: string[]
}

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
  readonly #cache: LRUCache<string, CacheEntry>
  readonly #loading = new Map<string, Promise<Authentication>>()
  /**
   * Token hashes of sessions known to have ended, with the reason. An end is final, so a dead
   * cookie keeps getting the true reason (the client shows it) without a database read.
   */
  readonly #endedReasons: LRUCache<string, EndReason>

  constructor(options: ResolvedOptions, orm: MikroORM) {
    this.options = options
    this.orm = orm
    this.#cache = new LRUCache({ max: options.cacheSize })
    this.#endedReasons = new LRUCache({ max: options.cacheSize })
  }

  /** The per-user settings: `policy(userId, c)` over the ward's options, validated. */
  async policyFor(userId: string, c: Context): Promise<SessionPolicy> {
    const { policy } = this.options
    if (!policy) return this.options
    return resolvePolicy(await policy(userId, c), this.options, `policy(${JSON.stringify(userId)})`)
  }

  /**
   * The fast path: the cached session when it is fresh (within cacheTtl), not due to end and
   * seen from the same user agent. Synchronous, no database; anything else goes to
   * `authenticate`.
   */
  cachedSession(c: Context, tokenHash: string, now: number): CacheEntry | undefined {
    const entry = this.#cache.get(tokenHash)
    if (!entry || now - entry.checkedAt >= this.options.cacheTtl * 1000) return undefined
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
    const endReason = this.#endedReasons.get(tokenHash)
    if (endReason) return { problem: ended(endReason) }
    let entry = this.#cache.get(tokenHash)
    if (!entry || now - entry.checkedAt >= this.options.cacheTtl * 1000) {
      const loaded = await this.#load(c, tokenHash, now)
      if ('problem' in loaded) return loaded
      entry = loaded.entry
    }
    let reason = expiryReason(entry.session, now, entry.policy)
    if (reason === 'idle' && entry.checkedAt < now) {
      // Never end for idleness on stale data: another instance may have seen activity.
      const fresh = await findById(fork(this.orm), entry.session.id)
      if (!fresh || fresh.endedAt) {
        return { problem: ended(this.#markEnded(tokenHash, fresh?.endReason ?? null)) }
      }
      this.#refresh(entry, fresh, entry.policy, now)
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
    return { entry }
  }

  /** Reads a session into the cache. Concurrent requests of one token share one read. */
  #load(c: Context, tokenHash: string, now: number): Promise<Authentication> {
    let loading = this.#loading.get(tokenHash)
    if (!loading) {
      loading = this.#read(c, tokenHash, now).finally(() => this.#loading.delete(tokenHash))
      this.#loading.set(tokenHash, loading)
    }
    return loading
  }

  async #read(c: Context, tokenHash: string, now: number): Promise<Authentication> {
    const record = await findByTokenHash(fork(this.orm), tokenHash)
    if (!record) {
      this.#cache.delete(tokenHash)
      return { problem: UNKNOWN_TOKEN }
    }
    if (record.endedAt) return { problem: ended(this.#markEnded(tokenHash, record.endReason)) }
    const policy = await this.policyFor(record.userId, c)
    const cached = this.#cache.get(tokenHash)
    if (cached) {
      this.#refresh(cached, record, policy, now)
      return { entry: cached }
    }
    const entry: CacheEntry = {
      session: toSessionInfo(record),
      policy,
      checkedAt: now,
      persistedActivityAt: record.lastActivityAt.getTime(),
    }
    this.#cache.set(tokenHash, entry)
    return { entry }
  }

  /**
   * Moves a cached session to its new token hash (token rotation), so the old token stops
   * hitting the cache at once instead of after cacheTtl.
   */
  rekey(oldHash: string, newHash: string): void {
    const entry = this.#cache.get(oldHash)
    this.#cache.delete(oldHash)
    if (entry) this.#cache.set(newHash, entry)
  }

  /** Updates a cached entry in place, so every request holding it sees the fresh row. */
  #refresh(entry: CacheEntry, record: SessionRecord, policy: SessionPolicy, now: number): void {
    const stored = record.lastActivityAt.getTime()
    // The cache may hold activity not yet written (touchInterval): keep the later of the two.
    record.lastActivityAt = new Date(Math.max(stored, entry.session.lastActivityAt.getTime()))
    entry.session = toSessionInfo(record)
    entry.policy = policy
    entry.checkedAt = now
    entry.persistedActivityAt = Math.max(stored, entry.persistedActivityAt)
  }

  /**
   * Records user activity at `at` (never moving it backwards). The cache always holds the
   * fresh value; the database is written at most once per touchInterval, and only then is a
   * promise returned, so the common case costs no await.
   */
  recordActivity(entry: CacheEntry, at: number, ip: string | undefined): Promise<void> | undefined {
    const { session } = entry
    if (session.endedAt) return undefined
    // Activity is kept to the second (as the client throttles it): no new Date per request.
    if (at - session.lastActivityAt.getTime() >= 1000) session.lastActivityAt = new Date(at)
    if (ip) session.lastIp = ip
    const interval = activityWriteInterval(this.options.touchInterval, entry.policy.expireAfter)
    if (at - entry.persistedActivityAt < interval * 1000) return undefined
    // Claimed before the write so concurrent requests of one session do not all write.
    entry.persistedActivityAt = at
    return writeActivity(fork(this.orm), session.id, session.lastActivityAt, session.lastIp)
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
    const records = await inTransaction(this.orm, (tx) =>
      this.#endIn(tx, target, reason, new Date(), detail),
    )
    await this.#afterEnd(records, reason)
    return records
  }

  /**
   * Ends sessions and trims their users' logs inside the caller's transaction: one commit for
   * both, so keeping the log short costs no extra round trip to disk.
   */
  async #endIn(
    tx: EntityManager,
    target: EndTarget,
    reason: EndReason,
    endedAt: Date,
    detail: string | null = null,
  ): Promise<SessionRecord[]> {
    const records = await endSessions(tx, target, reason, endedAt, detail)
    const { logLimit } = this.options
    if (logLimit !== null) {
      for (const userId of new Set(records.map((record) => record.userId))) {
        await pruneLog(tx, userId, logLimit)
      }
    }
    return records
  }

  async #afterEnd(records: SessionRecord[], reason: EndReason): Promise<void> {
    for (const record of records) {
      const cached = this.#cache.get(record.tokenHash)
      if (cached) cached.session.endedAt = record.endedAt
      this.#markEnded(record.tokenHash, reason)
      await this.#callHook('onSessionEnd', () =>
        this.options.hooks.onSessionEnd?.(toSessionInfo(record), reason),
      )
    }
  }

  /** Drops an ended session from the cache and remembers why it ended. */
  #markEnded(tokenHash: string, reason: EndReason | null): EndReason {
    const known = reason ?? 'revoked'
    this.#cache.delete(tokenHash)
    this.#endedReasons.set(tokenHash, known)
    return known
  }

  async #callHook(name: string, call: () => void | Promise<void>): Promise<void> {
    try {
      await call()
    } catch (error) {
      // An audit hook must never break a login, a logout or a request.
      this.options.logger.error(`sessionward: hooks.${name} threw`, error)
    }
  }

  /** Starts a session for `userId` (see `Ward.createSession`). */
  async createSession(c: Context, userId: string): Promise<CreatedSession> {
    if (typeof userId !== 'string' || userId === '' || userId.length > 255) {
      throw new TypeError('sessionward: createSession needs a userId string of 1 to 255 characters')
    }
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
    const evicted = await inTransaction(this.orm, async (tx) => {
      let victims: SessionRecord[] = []
      if (policy.maxSessions > 0) {
        // Serializes this user's logins so N concurrent logins cannot all see room for one more.
        await lockUser(tx, userId)
        const live = await listLive(tx, userId)
        const excess = live.length + 1 - policy.maxSessions
        if (excess > 0) {
          if (policy.onLimit === 'deny') throw sessionLimit(policy.maxSessions)
          const leastRecentlyActive = live.slice(-excess).map((session) => session.id)
          victims = await this.#endIn(tx, { ids: leastRecentlyActive }, 'evicted', now)
        }
      }
      await insertSession(tx, record)
      return victims
    })
    await this.#afterEnd(evicted, 'evicted')
    const session = toSessionInfo(record)
    this.#cache.set(record.tokenHash, {
      session: { ...session },
      policy,
      checkedAt: now.getTime(),
      persistedActivityAt: now.getTime(),
    })
    setSessionCookie(c, this.options, token, policy.maxAge)
    await this.#callHook('onSessionStart', () => this.options.hooks.onSessionStart?.(session, c))
    return { token, session, evicted: evicted.map((victim) => victim.id) }
  }
}

/** Runs a unit of work in a transaction; a store failure is answered as `storeError` says. */
async function inTransaction<T>(
  orm: MikroORM,
  work: (tx: EntityManager) => Promise<T>,
): Promise<T> {
  try {
    return await fork(orm).transactional((tx) => work(tx as EntityManager))
  } catch (error) {
    throw storeError(error)
  }
}

function sessionLimit(maxSessions: number): HTTPException {
  const body = {
    error: 'session_limit',
    message: `this account already has ${maxSessions} active session${maxSessions === 1 ? '' : 's'}; sign out elsewhere first`,
  }
  // An HTTPException carrying its response: Hono's default error handler answers it as is.
  return new HTTPException(403, {
    message: body.message,
    res: new Response(JSON.stringify(body), {
      status: 403,
      headers: { 'content-type': 'application/json' },
    }),
  })
}
