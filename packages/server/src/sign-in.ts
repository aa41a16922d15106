import { randomUUID } from 'node:crypto'
import type { Endings } from './ending.ts'
import { ProblemError, sessionLimit } from './problems.ts'
import { planSignIn, storedSession } from './rules.ts'
import type { IdpLink, LoadedSession, SessionRecord } from './session.ts'
import {
  landedValue,
  type NewSession,
  type Statements,
  type Store,
  settleStatement,
} from './store.ts'
import { generateToken, hashToken } from './tokens.ts'
import type { EndReason, SessionPolicy } from './vocabulary.ts'

/** What signing in needs: the store, the one end path, and the activity this instance knows. */
export interface SignInParts {
  store: Store
  endings: Endings
  /** How far a row's activity may lag what some instance saw (touchInterval, ms). */
  margin: number
  /** The latest activity this instance knows for a hash (its cache, the bus), ms; 0 if none. */
  latestActivity(tokenHash: string): number
  /**
   * Whether the ends a sign-in makes trim the user's log at once: only without a background
   * sweep, which otherwise trims them within one round, off the login path.
   */
  trimLog: boolean
}

/** Who signs in, under which policy, from where. */
export interface SignInRequest {
  userId: string
  policy: SessionPolicy
  userAgent: string
  ip: string | null
  now: Date
  /** The identity provider's session this one comes from, if any. */
  idp?: IdpLink | null
}

/** A session just started: its token (shown once), its row, and the sessions it evicted. */
export interface SignedIn {
  token: string
  record: SessionRecord
  evicted: SessionRecord[]
}

// Optimistic capped sign-ins tried before the locked transaction: each fails only when another
// sign-in of the same user committed in between, so a few cover all but a burst on one user.
const OPTIMISTIC_ATTEMPTS = 3

/**
 * Starts a session under the cap, with no HTTP in sight (the edge sets the cookie), so N
 * concurrent sign-ins with cap K leave exactly K live sessions, expired sessions end with their
 * true reason and never count, and the rules choose whom to evict (or refuse: a `ProblemError`
 * answering 403 `session_limit`). A capped sign-in reads the user's live sessions, lets the
 * rules plan, and carries the plan out in one statement under the user's lock that first checks
 * the live sessions are still those (`signInUnderCap`): two round trips, no transaction held
 * open. A few plans overtaken by another sign-in of the same user: the locked transaction
 * (lock, read, plan, write) instead. When an answer is lost, the new row decides whether it
 * landed.
 *
 * @example
 * const { token, record } = await signIn(parts, { userId, policy, userAgent, ip, now: new Date() })
 */
export async function signIn(parts: SignInParts, request: SignInRequest): Promise<SignedIn> {
  const { policy, now } = request
  const token = generateToken()
  const record: SessionRecord = {
    id: randomUUID(),
    userId: request.userId,
    tokenHash: hashToken(token),
    createdAt: now,
    lastActivityAt: now,
    expiresAt: new Date(now.getTime() + policy.maxAge * 1000),
    endedAt: null,
    endReason: null,
    ip: request.ip,
    lastIp: request.ip,
    userAgent: request.userAgent,
    detail: null,
    idp: request.idp ?? null,
  }
  const started = { record, expireAfter: policy.expireAfter }
  let ended: Ended[] | null = []
  if (policy.maxSessions === 0) {
    await storeAlone(parts, started)
  } else {
    ended = null
    for (let attempt = 0; attempt < OPTIMISTIC_ATTEMPTS && ended === null; attempt++) {
      ended = await startPlanned(parts, request, started)
    }
    ended ??= await startLocked(parts, request, started)
  }
  // Ends by expiry first, then the evictions, as the plan lists them.
  for (const reason of new Set(ended.map((end) => end.reason))) {
    const records = ended.filter((end) => end.reason === reason).map((end) => end.record)
    await parts.endings.afterEnd(records, reason)
  }
  const evicted = ended.filter((end) => end.reason === 'evicted').map((end) => end.record)
  return { token, record, evicted }
}

/** A session a sign-in ended (as stored after the end), and why. */
interface Ended {
  record: SessionRecord
  reason: EndReason
}

/** An uncapped sign-in: the new row alone, one statement; a lost answer reads it back. */
async function storeAlone(parts: SignInParts, started: NewSession): Promise<void> {
  const outcome = await settleStatement(parts.store.insertSession(started))
  if (outcome.outcome === 'answered') return
  const landed = await parts.store.findById(started.record.id).catch(() => null)
  if (!landed) throw outcome.error
}

/** What the rules make of the user's live sessions: 403 when they deny, else the ends in order. */
function plan(parts: SignInParts, request: SignInRequest, live: LoadedSession[]): Ended[] {
  const { policy, now } = request
  const stored = live.map((row) =>
    storedSession(row, parts.latestActivity(row.record.tokenHash), policy.expireAfter),
  )
  const planned = planSignIn(stored, policy, now.getTime(), parts.margin)
  if (planned.deny) throw new ProblemError(sessionLimit(policy.maxSessions))
  const byId = new Map(live.map((row) => [row.record.id, row.record]))
  const ends: [EndReason, string[]][] = [...planned.expired, ['evicted', planned.evict]]
  return ends.flatMap(([reason, ids]) =>
    ids.flatMap((id) => {
      const found = byId.get(id)
      return found ? [{ record: { ...found, endedAt: now, endReason: reason }, reason }] : []
    }),
  )
}

/**
 * One optimistic capped sign-in: the live sessions read without a lock, the rules' plan carried
 * out by `signInUnderCap`. The ends that landed, or null when the live sessions changed first.
 */
async function startPlanned(
  parts: SignInParts,
  request: SignInRequest,
  started: NewSession,
): Promise<Ended[] | null> {
  const live = await parts.store.listLive(request.userId)
  const ends = plan(parts, request, live)
  const notices = parts.endings.endPayloads(ends, request.now)
  const outcome = await settleStatement(
    parts.store.signInUnderCap({
      userId: request.userId,
      started,
      seen: live.map((row) => row.record.id),
      ends: ends.map((end, i) => ({
        id: end.record.id,
        reason: end.reason,
        notice: notices[i] ?? null,
      })),
      endedAt: request.now,
      logLimit: parts.trimLog ? parts.endings.logLimit : null,
    }),
  )
  if (outcome.outcome === 'answered') {
    if (outcome.value === null) return null
    const done = new Set(outcome.value)
    return ends.filter((end) => done.has(end.record.id))
  }
  // The answer was lost: it landed if the new row is there, with the ends it made.
  const ids = [started.record.id, ...ends.map((end) => end.record.id)]
  const stored = await parts.store.findByIds(ids).catch(() => null)
  if (!stored?.some((row) => row.id === started.record.id)) throw outcome.error
  const endedHere = new Set(
    stored
      .filter((row) => row.endedAt?.getTime() === request.now.getTime())
      .map((row) => `${row.id}:${row.endReason}`),
  )
  return ends.filter((end) => endedHere.has(`${end.record.id}:${end.reason}`))
}

/**
 * A capped sign-in in one transaction that locks the user first, so N concurrent ones cannot
 * all see room for one more: for plans overtaken again and again. When the COMMIT's answer is
 * lost, the new row decides whether it landed.
 */
async function startLocked(
  parts: SignInParts,
  request: SignInRequest,
  started: NewSession,
): Promise<Ended[]> {
  const { userId } = request
  const settled = await parts.store.transaction(async (tx: Statements) => {
    // Serializes this user's sign-ins so N concurrent ones cannot all see room for one more.
    await tx.lockUser(userId)
    const ends = plan(parts, request, await tx.listLive(userId))
    const done: Ended[] = []
    const reasons = [...new Set(ends.map((end) => end.reason))]
    for (const [i, reason] of reasons.entries()) {
      const ids = ends.filter((end) => end.reason === reason).map((end) => end.record.id)
      const end = { target: { ids }, reason, endedAt: request.now }
      // The last end stores the new row in the same statement: one round trip fewer.
      const last = i === reasons.length - 1
      const records = await parts.endings.endIn(tx, end, parts.trimLog, last ? started : undefined)
      done.push(...records.map((record) => ({ record, reason })))
    }
    if (reasons.length === 0) await tx.insertSession(started)
    return done
  })
  // COMMIT's answer lost: the sign-in (and the ends it made) landed if its row is there.
  return landedValue(settled, async () => (await parts.store.findById(started.record.id)) !== null)
}
