import type { MikroORM } from '@mikro-orm/core'
import { LRUCache } from 'lru-cache'
import type { Bus, ChannelListener } from './bus.ts'
import { busConnector } from './database.ts'
import { Devices } from './devices.ts'
import { Endings } from './ending.ts'
import { IdentityProviders } from './identity-providers.ts'
import type { NewDeviceNotice } from './known-device.ts'
import type { PolicyRequest, ResolvedOptions } from './options.ts'
import { resolvePolicy } from './options.ts'
import type { PageRequest } from './paging.ts'
import { PostgresBus } from './postgres-bus.ts'
import { RedisChannel } from './redis-channel.ts'
import { endsAt, holdVerdict, judge, type Verdict } from './rules.ts'
import { type LoadedSession, type SessionInfo, toSessionInfo } from './session.ts'
import { type CachedSession, SessionCache } from './session-cache.ts'
import { SessionWatchers } from './session-watchers.ts'
import { type SignedIn, type SignInRequest, signIn } from './sign-in.ts'
import { describeStoreError, type Page, Store } from './store.ts'
import { expiryAt, sweep } from './sweep.ts'
import { createThrottles, type Throttles } from './throttle.ts'
import type { EndReason, SessionPolicy } from './vocabulary.ts'

// The ward's I/O shell around the rules (rules.ts): it gathers the facts (the cache, the bus,
// the store), asks the rules, and carries out what they decide through the one end path
// (ending.ts). No HTTP here: the edge (middleware, routes, adapters) builds every answer.

/** What a token came to: a live session, a token nobody knows, or a session that ended. */
export type Authentication =
  | { kind: 'live'; entry: CachedSession }
  | { kind: 'unknown' }
  | { kind: 'ended'; reason: EndReason }

/** What the core needs of a request: its user agent, and the request itself for `policy()`. */
export interface Caller {
  userAgent: string
  request: PolicyRequest
}

// The background sweep ends at most this many sessions per batch (one transaction), so no
// batch holds its row locks long; two batches at a time, on two pooled connections (of the
// pool's ten), so the database writes one while the other's hooks run (npm run bench -- sweep).
const SWEEP_BATCH = 1000
const SWEEP_PARALLEL = 2
// A sweep round stops starting batches after half its interval; without a timer (`sweep()`
// called by the app), after half of this many seconds.
const SWEEP_BUDGET_UNTIMED = 60
// How far back the first round of a process trims logs: ends before then were trimmed by the
// rounds of instances running at the time.
const FIRST_TRIM_LOOKBACK = 3_600_000

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

/**
 * The state one ward shares between its middleware, routes and API: options, store, process
 * cache and bus, and the session lifecycle built on them.
 */
export class WardCore {
  readonly options: ResolvedOptions
  readonly orm: MikroORM
  /** Every statement this ward sends, bounded by its storeTimeout. */
  readonly store: Store
  /** The open `/session/events` streams of this instance. */
  readonly watchers = new SessionWatchers()
  /** The one end path. */
  readonly endings: Endings
  /** The receivers of the identity providers' logout tokens and security events. */
  readonly identityProviders: IdentityProviders
  /** Known devices and new-device alerts; null without the `newDevice` option. */
  readonly devices: Devices | null
  /**
   * The guess counters (`throttle`), on the channel's Redis client when there is one, so every
   * instance counts the same failures.
   */
  readonly throttles: Throttles
  /** The process cache of sessions: the request path's fast path asks it directly. */
  readonly sessions: SessionCache<PolicyRequest>
  /** Ends and activity shared with the other instances; null without `redis` or `bus`. */
  readonly #channel: Bus | null
  /** The PostgreSQL bus, which `start()` connects. */
  readonly #postgresBus: PostgresBus | null = null
  /** Writes no answer waits for (activity, policy): `close()` waits for them. */
  readonly #writing = new Set<Promise<void>>()
  /** Users' live sessions as this instance's last capped sign-in of each left them. */
  readonly #liveByUser: LRUCache<string, LoadedSession[]>
  /** Where the next sweep round's log trim starts (ms): ends at or after it are trimmed. */
  #trimmedFrom = Date.now() - FIRST_TRIM_LOOKBACK

  constructor(options: ResolvedOptions, orm: MikroORM) {
    this.options = options
    this.orm = orm
    this.store = new Store(orm, options.storeTimeout)
    this.#liveByUser = new LRUCache({ max: options.cacheSize })
    const listener: ChannelListener = {
      ended: ({ tokenHash, sessionId, reason, endedAt }) =>
        this.sessions.markEnded(tokenHash, sessionId, reason, new Date(endedAt)),
      activity: (tokenHash, at) => this.sessions.noteActivity(tokenHash, at),
      rotated: (oldHash, newHash) => this.sessions.rotate(oldHash, newHash),
      newDevice: (notice) => this.watchers.newDevice(notice),
    }
    const redis = options.redis ? new RedisChannel(options.redis, listener, options.logger) : null
    if (options.bus === 'postgres') {
      this.#postgresBus = new PostgresBus({
        store: this.store,
        listener,
        logger: options.logger,
        storeTimeout: options.storeTimeout * 1000,
      })
    }
    this.#channel = redis ?? this.#postgresBus
    this.throttles = createThrottles(options.throttle, redis?.client ?? null)
    this.sessions = new SessionCache(
      {
        max: options.cacheSize,
        ttl: options.cacheTtl * 1000,
        touchInterval: options.touchInterval * 1000,
      },
      {
        read: (tokenHash) => this.store.findByTokenHash(tokenHash),
        policy: (loaded, request) => this.#policyInForce(loaded, request),
        writeActivity: (session, userAgent) => {
          // Fire and forget: no answer waits for an activity write; close() does.
          const write = this.store.writeActivity(
            session.id,
            session.lastActivityAt,
            session.lastIp,
            userAgent,
          )
          this.#track(write, 'record activity')
          return write
        },
        activityMoved: (tokenHash, at) => this.#channel?.noteActivity(tokenHash, at),
        onEnded: (sessionId, reason) => this.watchers.ended(sessionId, reason),
        onPolicyChanged: (sessionId, policy) => this.watchers.policyChanged(sessionId, policy),
      },
    )
    this.endings = new Endings({
      options,
      store: this.store,
      cache: this.sessions,
      channel: this.#channel,
    })
    this.identityProviders = new IdentityProviders({
      options,
      store: this.store,
      endings: this.endings,
    })
    const { newDevice } = options
    this.devices = newDevice
      ? new Devices({
          options: { ...options, newDevice },
          store: this.store,
          endings: this.endings,
          tell: (notice) => this.#tellNewDevice(notice),
          evict: (tokenHash) => this.sessions.evict(tokenHash),
        })
      : null
  }

  /**
   * Connects what needs connecting before the ward serves: the PostgreSQL bus LISTENs and hears
   * itself, or this throws a `WardOptionsError` that says why.
   */
  async start(): Promise<void> {
    if (this.#postgresBus) await this.#postgresBus.start(await busConnector(this.orm))
  }

  /** A new-device sign-in reaches the streams of the user's other sessions, here and elsewhere. */
  #tellNewDevice(notice: NewDeviceNotice): void {
    this.watchers.newDevice(notice)
    this.#channel?.publishNewDevice(notice)
  }

  /** The per-user settings: `policy(userId, c)` over the ward's options, validated. */
  async policyFor(userId: string, request: PolicyRequest): Promise<SessionPolicy> {
    const { policy } = this.options
    if (!policy) return this.options
    return resolvePolicy(
      await policy(userId, request),
      this.options,
      `policy(${JSON.stringify(userId)})`,
    )
  }

  /**
   * The policy in force for a session loaded into the cache: `policy()` asked once per load, its
   * limits recorded in the row when they differ from what it holds, so the sweep, the cap and
   * the live views judge the session by the same limits as its requests (issue 20, defect 3).
   */
  async #policyInForce(loaded: LoadedSession, request: PolicyRequest): Promise<SessionPolicy> {
    const { record, expireAfter } = loaded
    const policy = await this.policyFor(record.userId, request)
    const shortened = endsAt(record, policy) < record.expiresAt.getTime()
    if (policy.expireAfter !== expireAfter || shortened) {
      this.#track(this.store.recordLimits(record.id, policy), 'record the session policy')
    }
    return policy
  }

  /**
   * What a token hash comes to: the cache (or one shared read) gives the facts, the rules
   * decide, and what they decide is carried out here (an end, a user agent adopted). An idle
   * verdict is never taken on stale activity: the bus's, then the row's, is taken in first.
   */
  async authenticate(caller: Caller, tokenHash: string, now = Date.now()): Promise<Authentication> {
    const pendingByHash = this.endings.pendingReason(tokenHash)
    if (pendingByHash) return { kind: 'ended', reason: pendingByHash }
    const found = await this.sessions.lookup(tokenHash, now, caller.request)
    if (found.kind !== 'live') return found
    const { entry } = found
    // Asked again after the read: an end of this token or session may have been kept meanwhile.
    const pending = this.endings.pendingReason(tokenHash, entry.session)
    if (pending) return { kind: 'ended', reason: pending }
    const judged = (): Verdict =>
      judge(entry.session, entry.policy, {
        now,
        userAgent: caller.userAgent,
        binding: this.options.userAgentBinding,
        // Read from the store by this very request: as fresh as anything can be.
        activityIsAuthoritative: entry.checkedAt >= now,
      })
    let verdict = judged()
    if (verdict.kind === 'unknown' && this.#channel) {
      // Activity another instance saw and has not written yet counts too.
      await this.#takeSharedActivity([tokenHash])
      verdict = judged()
    }
    if (verdict.kind === 'unknown') {
      const fresh = await this.store.findById(entry.session.id)
      if (!fresh || fresh.endedAt) {
        const reason = fresh?.endReason ?? 'revoked'
        this.sessions.markEnded(tokenHash, entry.session.id, reason, fresh?.endedAt ?? null)
        return { kind: 'ended', reason }
      }
      this.sessions.update(entry, fresh, entry.policy, now)
      verdict = judged()
    }
    // A new device's hold that lapsed unapproved ends it as reported (newDevice.hold).
    if (verdict.kind === 'live' && holdVerdict(entry.heldUntil, now) === 'lapsed') {
      await this.endings.end({ ids: [entry.session.id] }, 'reported')
      return { kind: 'ended', reason: 'reported' }
    }
    if (verdict.kind === 'ended') {
      if (verdict.endNow) {
        await this.endings.end({ ids: [entry.session.id] }, verdict.reason, verdict.detail)
      }
      return { kind: 'ended', reason: verdict.reason }
    }
    // Passed the binding with another string (a browser update): parse it once, not per request.
    if (verdict.kind === 'live' && verdict.adoptUserAgent) {
      this.sessions.adoptUserAgent(entry, caller.userAgent)
    }
    return { kind: 'live', entry }
  }

  /**
   * Moves a cached session to its new token hash (token rotation), so the old token stops
   * hitting the cache at once instead of after cacheTtl, here and (with Redis) everywhere.
   */
  rekey(oldHash: string, newHash: string): void {
    this.sessions.rotate(oldHash, newHash)
    this.#channel?.publishRotation(oldHash, newHash)
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

  /** Waits for the writes in flight (each bounded by storeTimeout), as on close. */
  async settle(): Promise<void> {
    await Promise.all(this.#writing)
  }

  /**
   * Ends the event streams, waits for writes in flight and leaves Redis (a client the app passed
   * in stays open).
   */
  async close(): Promise<void> {
    this.watchers.closeAll()
    await this.settle()
    await this.#channel?.close()
  }

  /** Why the session of this hash ended, when this instance knows it ended. */
  endedReason(tokenHash: string): EndReason | undefined {
    return this.sessions.endedReason(tokenHash)
  }

  /**
   * Starts a session (see `signIn`) and caches it: its hash is new, so its first request is a
   * cache hit.
   */
  async signIn(request: SignInRequest): Promise<SignedIn> {
    const signed = await signIn(
      {
        store: this.store,
        endings: this.endings,
        margin: this.options.touchInterval * 1000,
        latestActivity: (tokenHash) => this.sessions.latestActivity(tokenHash),
        trimLog: this.options.sweepInterval === 0,
        liveByUser: this.#liveByUser,
      },
      request,
    )
    const { record } = signed
    this.sessions.add(
      record.tokenHash,
      toSessionInfo(record),
      request.policy,
      request.now.getTime(),
    )
    return signed
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
    const { rows, next } = await this.store.listLivePage(userId, expiryAt(now, this.options), page)
    const withKnownActivity = rows.map((row) => {
      const known = this.sessions.latestActivity(row.tokenHash)
      const seen = known > row.lastActivityAt.getTime()
      return toSessionInfo(seen ? { ...row, lastActivityAt: new Date(known) } : row)
    })
    return { rows: withKnownActivity, next }
  }

  /**
   * One sweep round (see `sweep`), then the logs of users whose sessions ended since the last
   * round (by any instance; sign-ins leave theirs to it) trimmed to `logLimit`. Returns how
   * many sessions ended.
   */
  async sweep(now = Date.now(), batch = SWEEP_BATCH): Promise<number> {
    const ended = await sweep(
      {
        endings: this.endings,
        expireAfter: this.options.expireAfter,
        touchInterval: this.options.touchInterval,
        knownActivity: async (tokenHashes) => {
          await this.#takeSharedActivity(tokenHashes)
          return new Map(tokenHashes.map((hash) => [hash, this.sessions.latestActivity(hash)]))
        },
      },
      now,
      {
        batch,
        budget: (this.options.sweepInterval || SWEEP_BUDGET_UNTIMED) * 500,
        parallel: SWEEP_PARALLEL,
      },
    )
    // A new device's hold that lapsed unapproved ends `reported` even if it asks nothing.
    const lapsed = this.devices?.holds ? await this.devices.endLapsedHolds(new Date(now), batch) : 0
    await this.endings.trimLogsEndedSince(new Date(this.#trimmedFrom))
    // The next round trims from this one's start, less one write interval for clocks that
    // disagree; a trim that failed is tried again from where it started.
    this.#trimmedFrom = now - this.options.touchInterval * 1000
    return ended + lapsed
  }

  /** Takes in the activity other instances shared for these hashes, where the bus keeps it. */
  async #takeSharedActivity(tokenHashes: string[]): Promise<void> {
    if (!this.#channel) return
    for (const [tokenHash, at] of await this.#channel.latestActivity(tokenHashes)) {
      this.sessions.noteActivity(tokenHash, at)
    }
  }
}
