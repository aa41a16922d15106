import type { LoadedSession, SessionRecord } from './session.ts'
import { userAgentMatches } from './user-agent.ts'
import type { EndReason, SessionPolicy, UserAgentBinding } from './vocabulary.ts'

/*
 * The session rules, in one place and pure: no I/O, no Hono, no database, no clock reads. Every
 * question "is this session live, and what follows?" is answered here, by the request path, the
 * sweep, the cap and the live views alike, from facts the callers gather:
 *
 * 1. An ended session stays ended: nothing here turns an ended session live again.
 * 2. Absolute expiry wins over idleness: it is the stricter, unconditional limit.
 * 3. Idle exactly when the time since the freshest activity known reaches the idle limit in
 *    force; where a row may lag activity some instance saw (the sweep, the cap, the live views),
 *    the row's activity counts one write interval later (the documented write margin).
 * 4. Never idle on stale data: an idle decision on activity not read from the system of record
 *    asks for a re-read first (`unknown`).
 * 5. Activity never moves back: the freshest of the known times wins, and a client's report of
 *    its idle time only ever moves it forward (`reconcileLastActivity`).
 * 6. The user-agent binding is checked on live sessions only; a string that passes the binding
 *    but differs (a browser update) is adopted.
 */

/** The limits of the policy in force that decide expiry (seconds). */
export type Limits = Pick<SessionPolicy, 'expireAfter' | 'maxAge'>

/** What the rules read of a session. */
export type SessionFacts = Pick<
  SessionRecord,
  'createdAt' | 'lastActivityAt' | 'expiresAt' | 'endedAt' | 'endReason' | 'userAgent'
>

/** Why a session must end now. */
export type ExpiryReason = 'absolute' | 'idle'

/**
 * The rules' answer about a session for one request:
 * - `live`: let it through; `adoptUserAgent` when the request's user agent passed the binding
 *   with another string (a browser update);
 * - `ended`: refuse it; `endNow` when it is still live in the store and must be ended with this
 *   reason (and `detail`), otherwise it ended already;
 * - `unknown`: no decision on what is known: idle by activity that may be stale, so the caller
 *   re-reads the authoritative activity and asks again.
 */
export type Verdict =
  | { kind: 'live'; adoptUserAgent: boolean }
  | { kind: 'ended'; reason: EndReason; endNow: boolean; detail: string | null }
  | { kind: 'unknown' }

/** What the request brings to the decision. */
export interface RequestFacts {
  now: number
  userAgent: string
  binding: UserAgentBinding
  /**
   * Whether the session's activity is known from the system of record (the row read now, or
   * the shared activity taken in): only then may it end for idleness (rule 4).
   */
  activityIsAuthoritative: boolean
}

/** A session that ended with no stored reason was ended by someone: it reads as revoked. */
const UNKNOWN_REASON: EndReason = 'revoked'

/**
 * When a session ends at the latest (ms). A maxAge shortened by policy after login applies at
 * once; a longer one never extends a session beyond the end it was given at login.
 *
 * @example
 * endsAt(session, policy) - now // ms left
 */
export function endsAt(
  session: Pick<SessionFacts, 'createdAt' | 'expiresAt'>,
  limits: Pick<Limits, 'maxAge'>,
): number {
  return Math.min(session.expiresAt.getTime(), session.createdAt.getTime() + limits.maxAge * 1000)
}

/**
 * Why a live session must end at `now`, or null while it may go on (rules 2 and 3).
 *
 * @example
 * expiryReason(session, now, { expireAfter: 900, maxAge: 43_200 }) // 'idle' | 'absolute' | null
 */
export function expiryReason(
  session: Pick<SessionFacts, 'createdAt' | 'lastActivityAt' | 'expiresAt'>,
  now: number,
  limits: Limits,
): ExpiryReason | null {
  if (now >= endsAt(session, limits)) return 'absolute'
  if (now - session.lastActivityAt.getTime() >= limits.expireAfter * 1000) return 'idle'
  return null
}

/**
 * The freshest activity known (ms): the latest of the times given (rule 5).
 *
 * @example
 * freshestActivity(row.lastActivityAt.getTime(), cached, shared)
 */
function freshestActivity(...times: number[]): number {
  return Math.max(0, ...times)
}

/**
 * Reconciles the server's last activity with a client's report. The client's `idleFor` wins
 * only when it is smaller (some tab saw more recent activity), so a stale or hostile client
 * can never rewind activity the server already saw. Relative seconds only: clocks never meet.
 *
 * @example
 * reconcileLastActivity(serverLastActivityAt, Date.now(), 12) // now - min(serverIdle, 12 s)
 */
export function reconcileLastActivity(
  lastActivityAt: number,
  now: number,
  clientIdleFor: number,
): number {
  const serverIdleMs = Math.max(0, now - lastActivityAt)
  return now - Math.min(serverIdleMs, clientIdleFor * 1000)
}

/**
 * The verdict on a session for a request (rules 1–6).
 *
 * @example
 * const verdict = judge(entry.session, entry.policy, { now, userAgent, binding, activityIsAuthoritative: false })
 * if (verdict.kind === 'unknown') // re-read the row, then judge again
 */
export function judge(session: SessionFacts, limits: Limits, request: RequestFacts): Verdict {
  if (session.endedAt) {
    return {
      kind: 'ended',
      reason: session.endReason ?? UNKNOWN_REASON,
      endNow: false,
      detail: null,
    }
  }
  const reason = expiryReason(session, request.now, limits)
  if (reason === 'idle' && !request.activityIsAuthoritative) return { kind: 'unknown' }
  if (reason) return { kind: 'ended', reason, endNow: true, detail: null }
  const { userAgent } = request
  if (userAgent === session.userAgent) return { kind: 'live', adoptUserAgent: false }
  if (!userAgentMatches(session.userAgent, userAgent, request.binding)) {
    return {
      kind: 'ended',
      reason: 'user_agent_changed',
      endNow: true,
      detail: `user agent changed from ${JSON.stringify(session.userAgent)} to ${JSON.stringify(userAgent)}`,
    }
  }
  return { kind: 'live', adoptUserAgent: true }
}

/**
 * The fast path's question: may a cached session pass without any further look (not due to
 * end, same user-agent string)? Anything else takes the full `judge`.
 *
 * @example
 * if (passesAsCached(entry.session, entry.policy, now, userAgent)) return entry
 */
export function passesAsCached(
  session: SessionFacts,
  limits: Limits,
  now: number,
  userAgent: string,
): boolean {
  return (
    session.endedAt === null &&
    userAgent === session.userAgent &&
    expiryReason(session, now, limits) === null
  )
}

// Activity is kept to the second, as the client throttles it: a later time within the second
// of the last recorded one adds nothing (no new Date, no bus message, no write).
const ACTIVITY_STEP = 1000

/**
 * Whether activity at `at` moves the recorded last activity (`last`, ms) on.
 *
 * @example
 * activityMovesOn(session.lastActivityAt.getTime(), now) // false within the same second
 */
export function activityMovesOn(last: number, at: number): boolean {
  return at - last >= ACTIVITY_STEP
}

/**
 * Whether activity at `at` is due to be written, the row holding `written` (ms) and at most one
 * write per `interval` (ms) being allowed.
 *
 * @example
 * activityWriteDue(entry.persistedActivityAt, now, 60_000)
 */
export function activityWriteDue(written: number, at: number, interval: number): boolean {
  return at - written >= interval
}

/** A stored session as the sweep, the cap and the live views judge it. */
export interface StoredSession extends Pick<SessionFacts, 'createdAt' | 'expiresAt'> {
  id: string
  /** The row's activity (ms). */
  storedActivityAt: number
  /** The latest activity this instance knows from elsewhere (its cache, the bus), 0 if none. */
  knownActivityAt: number
  /** The idle limit in force for this session (seconds). */
  expireAfter: number
}

/**
 * A stored row as the rules judge it: the idle limit recorded for it (or `expireAfter` for rows
 * older than that column), and the activity this instance knows besides the row's.
 *
 * @example
 * storedSession(loaded, cache.latestActivity(loaded.record.tokenHash), options.expireAfter)
 */
export function storedSession(
  loaded: LoadedSession,
  knownActivityAt: number,
  expireAfter: number,
): StoredSession {
  const { record } = loaded
  return {
    id: record.id,
    createdAt: record.createdAt,
    expiresAt: record.expiresAt,
    storedActivityAt: record.lastActivityAt.getTime(),
    knownActivityAt,
    expireAfter: loaded.expireAfter ?? expireAfter,
  }
}

/**
 * Why a stored session has expired, judging its row's activity one write interval (`margin`,
 * ms) later than stored, since some instance may have seen activity not yet written (rule 3).
 * Its absolute end is the row's own.
 *
 * @example
 * storedExpiry(row, now, 60_000) // 'idle' | 'absolute' | null
 */
export function storedExpiry(
  stored: StoredSession,
  now: number,
  margin: number,
): ExpiryReason | null {
  const lastActivityAt = freshestActivity(stored.knownActivityAt, stored.storedActivityAt + margin)
  return expiryReason({ ...stored, lastActivityAt: new Date(lastActivityAt) }, now, {
    expireAfter: stored.expireAfter,
    maxAge: Number.POSITIVE_INFINITY,
  })
}

/** What a sign-in under the cap does to the user's stored live sessions. */
export interface SignInPlan {
  /** Expired sessions to end first, with their true reasons: they never count. */
  expired: Map<ExpiryReason, string[]>
  /** Live sessions to end as `evicted` to make room (least recently active first). */
  evict: string[]
  /** The sign-in is refused (onLimit `deny` and no room). */
  deny: boolean
}

/**
 * Plans a sign-in under `maxSessions`: expired sessions end with their true reason and never
 * count; then, over the cap, `evict-oldest` ends the least recently active (ties: the oldest
 * login) and `deny` refuses. `maxSessions` 0 means no cap.
 *
 * @example
 * const plan = planSignIn(rows, { maxSessions: 3, onLimit: 'evict-oldest' }, now, margin)
 */
export function planSignIn(
  sessions: StoredSession[],
  limits: Pick<SessionPolicy, 'maxSessions' | 'onLimit'>,
  now: number,
  margin: number,
): SignInPlan {
  const expired = new Map<ExpiryReason, string[]>()
  const live: StoredSession[] = []
  for (const session of sessions) {
    const reason = storedExpiry(session, now, margin)
    if (reason) expired.set(reason, [...(expired.get(reason) ?? []), session.id])
    else live.push(session)
  }
  const excess = limits.maxSessions > 0 ? live.length + 1 - limits.maxSessions : 0
  if (excess <= 0) return { expired, evict: [], deny: false }
  if (limits.onLimit === 'deny') return { expired, evict: [], deny: true }
  const activity = (s: StoredSession) => freshestActivity(s.storedActivityAt, s.knownActivityAt)
  const leastRecentFirst = [...live].sort(
    (x, y) =>
      activity(x) - activity(y) ||
      x.createdAt.getTime() - y.createdAt.getTime() ||
      (x.id < y.id ? -1 : 1),
  )
  return { expired, evict: leastRecentFirst.slice(0, excess).map((s) => s.id), deny: false }
}

/**
 * Where a new device's held session stands (`newDevice.hold`, issue 23): `pass` when it is not
 * held (or was approved), `held` while it waits for approval (only its own ping, events and
 * logout may pass), `lapsed` once the bound has passed unapproved (it ends `reported`).
 */
export type HoldVerdict = 'pass' | 'held' | 'lapsed'

/**
 * The hold's verdict at `now` for a session held until `heldUntil` (ms, null when not held).
 *
 * @example
 * holdVerdict(null, now) // 'pass'
 * holdVerdict(now + 60_000, now) // 'held'
 * holdVerdict(now, now) // 'lapsed'
 */
export function holdVerdict(heldUntil: number | null, now: number): HoldVerdict {
  if (heldUntil === null) return 'pass'
  return now < heldUntil ? 'held' : 'lapsed'
}

/** The routes a held session may use: its own heartbeat, its stream, and logout. */
export type HeldRoute = 'ping' | 'events' | 'logout' | 'other'

/**
 * Whether a request of a session in `verdict` may go on to `route`: a held session only to its
 * own ping, events and logout (never to list, end or report the user's other sessions, nor to
 * approve itself, nor to any app route). A lapsed one never (it is ended first).
 *
 * @example
 * holdAllows('held', 'ping') // true
 * holdAllows('held', 'other') // false
 */
export function holdAllows(verdict: HoldVerdict, route: HeldRoute): boolean {
  if (verdict === 'pass') return true
  return verdict === 'held' && route !== 'other'
}
