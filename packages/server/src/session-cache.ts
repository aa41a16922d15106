import { LRUCache } from 'lru-cache'
import { activityWriteInterval } from './options.ts'
import { activityMovesOn, activityWriteDue, passesAsCached } from './rules.ts'
import {
  type LoadedSession,
  type SessionInfo,
  type SessionRecord,
  toSessionInfo,
} from './session.ts'
import type { EndReason, SessionPolicy } from './vocabulary.ts'

/*
 * The process cache of sessions, keyed by token hash. Every rule about what it holds lives
 * here, and nothing else writes to it:
 *
 * 1. One load per hash. Concurrent requests of one token share one read of the row (and one
 *    `policy()` call): the load in flight is kept in `#loads`, beside the LRU and outside its
 *    capacity, so a load never evicts a cached session and is never evicted itself. The LRU
 *    holds live sessions only; a load stores its session there when it is done.
 * 2. An ended hash never comes back. Ending (or rotating away) a hash first records it in
 *    `#gone`, then deletes it from the cache and abandons its load in flight (aborted and out of
 *    `#loads`). A load stores its session only when it was not abandoned and the hash is not in
 *    `#gone`, so no order of awaits can put an ended session back; the requests waiting on it
 *    get the end.
 * 3. The freshest activity wins. A re-read row never moves the cached activity back (also when
 *    the entry was evicted while the re-read was in flight), nor undoes a user agent adopted
 *    since the last write (it is written with the next one); the row is written at most once
 *    per touchInterval, one write in flight per session, and a write counts as done only once
 *    it succeeded.
 * 4. Handlers see a frozen copy of the session (`sessionView`), made once per change of the
 *    entry and shared by the requests until the next change: never the entry itself.
 * 5. A miss is remembered briefly in its own LRU (MISS_TTL, at most MISSES_KEPT hashes), never
 *    in the session LRU: unknown tokens evict no live session, and a repeated one costs no read.
 *    `add()` clears a remembered miss for its hash.
 * 6. Activity another instance saw (`noteActivity`) only ever moves a session's activity forward,
 *    cached or not yet loaded, and is never written here: the instance that saw it writes it.
 * 7. Every session that becomes known as ended here, however it was learnt (an end made here,
 *    a row read ended, another instance's notice), is reported once to `onEnded`.
 */

/** A session held in the cache. Only this module changes it. */
export interface CachedSession {
  /** The hash the session is cached under (it changes when the token rotates). */
  tokenHash: string
  /** The session as known here: the row, with fresher activity than the row may have. */
  readonly session: SessionInfo
  policy: SessionPolicy
  /** When the row was last read from the database (ms). */
  checkedAt: number
  /** The last activity time known to be in the row (ms). */
  persistedActivityAt: number
  /**
   * At most one activity write per this many ms: touchInterval, shortened with a policy that
   * shortens expireAfter (set with the policy, so no request computes it).
   */
  writeInterval: number
  /** A user agent adopted (a browser update) and not yet written to the row. */
  adoptedUserAgent: string | null
  /** The activity write in flight, if any: one at a time per session. */
  writing: Promise<void> | null
  /** The read-only copy handlers see; null after a change, until the next request needs it. */
  view: Readonly<SessionInfo> | null
  /**
   * Until when a new device's session waits for approval (ms), or null. A held session is never
   * cached (each of its requests reads the row), so an approval needs no invalidation.
   */
  heldUntil: number | null
}

/** What a token hash stands for: a live cached session, an ended one, or nothing known. */
export type Lookup =
  | { kind: 'live'; entry: CachedSession }
  | { kind: 'ended'; reason: EndReason }
  | { kind: 'unknown' }

/** Where the cache reads sessions from and writes activity to. `R` is the request, for `policy`. */
export interface SessionSource<R> {
  read(tokenHash: string): Promise<LoadedSession | null>
  /** The policy in force for a loaded session, asked once per load (with its first request). */
  policy(loaded: LoadedSession, request: R): Promise<SessionPolicy>
  /**
   * Writes activity, and the user agent when `userAgent` is not null. Its failure is the
   * source's to report: the cache only learns that the write did not count.
   */
  writeActivity(session: SessionInfo, userAgent: string | null): Promise<void>
  /** Told when a session's activity moved (at most once a second), for other instances. */
  activityMoved(tokenHash: string, at: number): void
  /** Told once per session that becomes known as ended (rule 7). */
  onEnded(sessionId: string, reason: EndReason): void
  /** Told when a re-read gives a session other warning or idle thresholds. */
  onPolicyChanged(sessionId: string, policy: SessionPolicy): void
}

const UNKNOWN: Lookup = { kind: 'unknown' }
// A hash rotated away: unknown to this cache from now on (reuse detection looks further).
const ROTATED = 'rotated'
type Gone = EndReason | typeof ROTATED
// Misses are kept briefly: a token created on another instance must not wait long.
const MISS_TTL = 5_000
const MISSES_KEPT = 10_000

/** One read of a hash in flight, shared by every request of that token (rule 1). */
interface Load {
  readonly result: Promise<Lookup>
  /** Aborted when the hash ends or rotates away: the load then stores nothing (rule 2). */
  readonly abandon: AbortController
}

/** The answer for a hash in `#gone`. */
function goneLookup(gone: Gone): Lookup {
  return gone === ROTATED ? UNKNOWN : { kind: 'ended', reason: gone }
}

export class SessionCache<R> {
  /** Live sessions only (rule 1): never a load in flight, never a miss. */
  readonly #sessions: LRUCache<string, CachedSession>
  /** The loads in flight, outside the LRU's capacity: as many as there are hashes being read. */
  readonly #loads = new Map<string, Load>()
  /** Hashes that ended (with why) or were rotated away: never stored again. */
  readonly #gone: LRUCache<string, Gone>
  readonly #misses: LRUCache<string, true> | null
  /** Activity other instances saw for sessions not cached here (ms), taken in on load. */
  readonly #remoteActivity: LRUCache<string, number>
  readonly #source: SessionSource<R>
  readonly #ttl: number
  readonly #touchInterval: number

  constructor(
    options: { max: number; ttl: number; touchInterval: number },
    source: SessionSource<R>,
  ) {
    this.#source = source
    this.#ttl = options.ttl
    this.#touchInterval = options.touchInterval
    this.#gone = new LRUCache({ max: options.max })
    this.#remoteActivity = new LRUCache({ max: options.max })
    // cacheTtl 0 means "always read": no miss is trusted either.
    this.#misses =
      options.ttl > 0
        ? new LRUCache({
            max: MISSES_KEPT,
            ttl: Math.min(MISS_TTL, options.ttl),
            // The clock the rest of the ward reads, read at every check: lru-cache would
            // otherwise reuse one reading for a millisecond (a timer), past a fake clock's move.
            perf: { now: () => Date.now() },
            ttlResolution: 0,
          })
        : null
    this.#sessions = new LRUCache({ max: options.max })
  }

  /**
   * The fast path: the cached session when its row was read within the TTL and the rules let
   * it pass as it is (not due to end, the same user-agent string). Synchronous, no database;
   * anything else takes `lookup` and the full verdict.
   *
   * @example
   * const entry = cache.passing(tokenHash, Date.now(), userAgent)
   */
  passing(tokenHash: string, now: number, userAgent: string): CachedSession | undefined {
    const entry = this.fresh(tokenHash, now)
    return entry && passesAsCached(entry.session, entry.policy, now, userAgent) ? entry : undefined
  }

  /** The cached session when its row was read within the TTL; never a database read. */
  fresh(tokenHash: string, now: number): CachedSession | undefined {
    const entry = this.#sessions.get(tokenHash)
    return entry && now - entry.checkedAt < this.#ttl ? entry : undefined
  }

  /** The cached session, however old, without touching the LRU order (for activity lookups). */
  peek(tokenHash: string): CachedSession | undefined {
    return this.#sessions.peek(tokenHash)
  }

  /** The latest activity known here for a hash (ms; 0 when none): cached or another instance's. */
  latestActivity(tokenHash: string): number {
    const cached = this.peek(tokenHash)?.session.lastActivityAt.getTime() ?? 0
    return Math.max(cached, this.#remoteActivity.get(tokenHash) ?? 0)
  }

  /**
   * What a token hash stands for: from the cache when fresh, else from the one read in flight
   * for it (started here when there is none). Throws what the store throws.
   */
  async lookup(tokenHash: string, now: number, request: R): Promise<Lookup> {
    const gone = this.#gone.get(tokenHash)
    if (gone !== undefined) return goneLookup(gone)
    if (this.#misses?.has(tokenHash)) return UNKNOWN
    const entry = this.fresh(tokenHash, now)
    if (entry) return { kind: 'live', entry }
    const inFlight = this.#loads.get(tokenHash)
    if (inFlight) return inFlight.result
    const abandon = new AbortController()
    const result = this.#load(tokenHash, now, request, abandon.signal).finally(() => {
      // Only this load's own slot: an abandoned load's hash may be loading again.
      if (this.#loads.get(tokenHash)?.abandon === abandon) this.#loads.delete(tokenHash)
    })
    this.#loads.set(tokenHash, { result, abandon })
    return result
  }

  async #load(tokenHash: string, now: number, request: R, abandoned: AbortSignal): Promise<Lookup> {
    // The entry cached when the load began keeps its activity even if evicted meanwhile (rule 3).
    const cached = this.#sessions.peek(tokenHash)
    const loaded = await this.#source.read(tokenHash)
    if (!loaded) {
      this.#misses?.set(tokenHash, true)
      return UNKNOWN
    }
    const { record } = loaded
    if (record.endedAt) {
      const reason = record.endReason ?? 'revoked'
      this.#markGone(tokenHash, record.id, reason)
      return { kind: 'ended', reason }
    }
    const policy = await this.#source.policy(loaded, request)
    // Rule 2: an end or a rotation during the load abandoned it and is in #gone (unless #gone
    // has forgotten it since: then the abandonment alone says no).
    const gone = this.#gone.get(tokenHash)
    if (gone !== undefined) return goneLookup(gone)
    if (abandoned.aborted) return UNKNOWN
    if (loaded.heldUntil != null) {
      const held = newEntry(
        tokenHash,
        toSessionInfo(record),
        policy,
        this.#writeInterval(policy),
        now,
      )
      held.heldUntil = loaded.heldUntil
      return { kind: 'live', entry: held }
    }
    const entry = this.#sessions.peek(tokenHash) ?? cached
    if (entry) this.#reread(entry, record, policy, now)
    const stored =
      entry ?? newEntry(tokenHash, toSessionInfo(record), policy, this.#writeInterval(policy), now)
    this.#takeActivity(stored, this.#remoteActivity.get(tokenHash) ?? 0)
    this.#sessions.set(tokenHash, stored)
    return { kind: 'live', entry: stored }
  }

  /** Takes a re-read row into the cached entry, telling the watchers of new thresholds. */
  #reread(entry: CachedSession, record: SessionRecord, policy: SessionPolicy, now: number): void {
    const before = entry.policy
    this.update(entry, record, policy, now)
    if (before.warnAfter !== policy.warnAfter || before.expireAfter !== policy.expireAfter) {
      this.#source.onPolicyChanged(record.id, policy)
    }
  }

  /**
   * Takes in a re-read row, keeping the cached activity when it is later (rule 3), so every
   * request holding the entry sees the fresh row.
   */
  update(entry: CachedSession, record: SessionRecord, policy: SessionPolicy, now: number): void {
    const stored = record.lastActivityAt.getTime()
    const session = entry.session
    const lastActivityAt = Math.max(stored, session.lastActivityAt.getTime())
    Object.assign(session, toSessionInfo(record), {
      lastActivityAt: new Date(lastActivityAt),
      lastIp: lastActivityAt > stored ? session.lastIp : record.lastIp,
      userAgent: entry.adoptedUserAgent ?? record.userAgent,
    })
    entry.policy = policy
    entry.writeInterval = this.#writeInterval(policy)
    entry.checkedAt = now
    entry.persistedActivityAt = Math.max(stored, entry.persistedActivityAt)
    entry.view = null
  }

  /** Puts a session just created into the cache (its hash is new: no miss may hide it). */
  add(tokenHash: string, session: SessionInfo, policy: SessionPolicy, now: number): void {
    this.#misses?.delete(tokenHash)
    this.#sessions.set(
      tokenHash,
      newEntry(tokenHash, { ...session }, policy, this.#writeInterval(policy), now),
    )
  }

  /** Drops a cached session (it was just held: its requests must read the row). */
  evict(tokenHash: string): void {
    this.#sessions.delete(tokenHash)
  }

  /** Why the session of this hash ended, when this cache knows it ended. */
  endedReason(tokenHash: string): EndReason | undefined {
    const gone = this.#gone.get(tokenHash)
    return gone === ROTATED ? undefined : gone
  }

  /**
   * The hashes of cached sessions with this id (of this user): a scan of the cache, for the
   * rare end that cannot reach the store.
   */
  hashesOf(id: string, userId?: string): string[] {
    const hashes: string[] = []
    for (const [tokenHash, entry] of this.#sessions.entries()) {
      const { session } = entry
      if (session.id === id && (userId === undefined || session.userId === userId)) {
        hashes.push(tokenHash)
      }
    }
    return hashes
  }

  /**
   * Records that a session ended: its hash never enters the cache again (rule 2), and the end
   * is reported once (rule 7).
   */
  markEnded(tokenHash: string, sessionId: string, reason: EndReason, endedAt: Date | null): void {
    this.#markGone(tokenHash, sessionId, reason)
    this.#abandonLoad(tokenHash)
    const entry = this.#sessions.peek(tokenHash)
    // Requests already holding the entry see the end (no activity write is due any more).
    if (entry && endedAt) {
      entry.session.endedAt = endedAt
      entry.view = null
    }
    this.#sessions.delete(tokenHash)
  }

  /** Stops the load in flight for a hash from storing its session (rule 2). */
  #abandonLoad(tokenHash: string): void {
    this.#loads.get(tokenHash)?.abandon.abort()
    this.#loads.delete(tokenHash)
  }

  #markGone(tokenHash: string, sessionId: string, reason: EndReason): void {
    const known = this.#gone.get(tokenHash)
    this.#gone.set(tokenHash, reason)
    if (known === undefined || known === ROTATED) this.#source.onEnded(sessionId, reason)
  }

  /**
   * Takes in activity another instance saw at `at` (rule 6): the cached session's, or kept
   * for the session's next load here.
   */
  noteActivity(tokenHash: string, at: number): void {
    const entry = this.#sessions.peek(tokenHash)
    if (entry) this.#takeActivity(entry, at)
    else if (at > (this.#remoteActivity.get(tokenHash) ?? 0))
      this.#remoteActivity.set(tokenHash, at)
  }

  #takeActivity(entry: CachedSession, at: number): void {
    const { session } = entry
    if (at <= session.lastActivityAt.getTime() || session.endedAt) return
    session.lastActivityAt = new Date(at)
    entry.view = null
  }

  /**
   * Adopts the user agent a request came with, once it passed the binding (a browser update):
   * later requests compare equal without parsing, and the next activity write stores it.
   */
  adoptUserAgent(entry: CachedSession, userAgent: string): void {
    entry.session.userAgent = userAgent
    entry.adoptedUserAgent = userAgent
    entry.view = null
  }

  /** Moves a session to its new token hash (rotation); the old hash is gone at once (rule 2). */
  rotate(oldHash: string, newHash: string): void {
    const entry = this.#sessions.peek(oldHash)
    this.#gone.set(oldHash, ROTATED)
    this.#abandonLoad(oldHash)
    this.#sessions.delete(oldHash)
    if (entry) {
      entry.tokenHash = newHash
      this.#sessions.set(newHash, entry)
    }
  }

  /** A policy that shortens expireAfter shortens the session's write interval with it (ms). */
  #writeInterval(policy: SessionPolicy): number {
    return activityWriteInterval(this.#touchInterval / 1000, policy.expireAfter) * 1000
  }

  /**
   * Whether a request at `at` has activity to record: its second moved on, or a write is due.
   * Most requests of a busy session have none and skip recording altogether; activity, and the
   * client's address with it, are kept to the second.
   */
  activityNews(entry: CachedSession, at: number): boolean {
    const { session } = entry
    if (session.endedAt) return false
    return (
      activityMovesOn(session.lastActivityAt.getTime(), at) ||
      (!entry.writing && activityWriteDue(entry.persistedActivityAt, at, entry.writeInterval))
    )
  }

  /**
   * Records activity at `at` (never moving it backwards). The cache always holds the fresh
   * value; the row is written at most once per write interval, one write in flight per session,
   * and no caller waits for it.
   */
  recordActivity(entry: CachedSession, at: number, ip: string | undefined): void {
    const { session } = entry
    if (session.endedAt) return
    if (activityMovesOn(session.lastActivityAt.getTime(), at)) {
      session.lastActivityAt = new Date(at)
      entry.view = null
      this.#source.activityMoved(entry.tokenHash, at)
    }
    if (ip && ip !== session.lastIp) {
      session.lastIp = ip
      entry.view = null
    }
    if (entry.writing || !activityWriteDue(entry.persistedActivityAt, at, entry.writeInterval)) {
      return
    }
    // One write in flight per session; it counts only once it succeeded, so after a failure
    // the next request writes again.
    const { adoptedUserAgent } = entry
    const written = session.lastActivityAt.getTime()
    entry.writing = this.#source
      .writeActivity(session, adoptedUserAgent)
      .then(
        () => {
          entry.persistedActivityAt = Math.max(entry.persistedActivityAt, written)
          // Written: a re-read row now has it (unless another was adopted meanwhile).
          if (entry.adoptedUserAgent === adoptedUserAgent) entry.adoptedUserAgent = null
        },
        // Not written: the next request writes again (the source reported the failure).
        () => undefined,
      )
      .finally(() => {
        entry.writing = null
      })
  }
}

function newEntry(
  tokenHash: string,
  session: SessionInfo,
  policy: SessionPolicy,
  writeInterval: number,
  now: number,
): CachedSession {
  return {
    tokenHash,
    session,
    policy,
    checkedAt: now,
    persistedActivityAt: session.lastActivityAt.getTime(),
    writeInterval,
    adoptedUserAgent: null,
    writing: null,
    view: null,
    heldUntil: null,
  }
}

/**
 * The session as handlers see it: frozen, with its own dates, so nothing a handler does reaches
 * the cache. Made once per change of the entry, not per request.
 *
 * @example
 * c.set('session', sessionView(entry))
 */
export function sessionView(entry: CachedSession): Readonly<SessionInfo> {
  if (!entry.view) {
    const { session } = entry
    entry.view = Object.freeze({
      ...session,
      createdAt: readOnlyDate(session.createdAt),
      lastActivityAt: readOnlyDate(session.lastActivityAt),
      expiresAt: readOnlyDate(session.expiresAt),
      endedAt: session.endedAt && readOnlyDate(session.endedAt),
    })
  }
  return entry.view
}

// A Date's value lives in an internal slot that Object.freeze does not protect: the view is
// shared by the requests until the next change, so its dates refuse every setter.
const READ_ONLY_DATE: Date = Object.create(Date.prototype)
for (const name of Object.getOwnPropertyNames(Date.prototype)) {
  if (!name.startsWith('set')) continue
  Object.defineProperty(READ_ONLY_DATE, name, {
    value() {
      throw new TypeError(`sessionward: c.var.session is read-only (Date#${name})`)
    },
  })
}
Object.freeze(READ_ONLY_DATE)

/** A copy of `date` whose setters throw (still `instanceof Date`, same JSON). */
function readOnlyDate(date: Date): Date {
  return Object.freeze(Object.setPrototypeOf(new Date(date), READ_ONLY_DATE))
}
