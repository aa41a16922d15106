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
  /**
   * Each user's live sessions as this instance's last capped sign-in of them left them, for the
   * next one to plan on without reading them first (checked under the lock all the same).
   */
  liveByUser: LiveByUser
}

/** Users' live sessions as last seen here (an LRU cache fits). */
export interface LiveByUser {
  get(userId: string): LoadedSession[] | undefined
  set(userId: string, live: LoadedSession[]): unknown
  delete(userId: string): unknown
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
 * answering 403 `session_limit`). A capped sign-in lets the rules plan on the user's live
 * sessions (as this instance's last sign-in of the user left them, else read first) and
 * carries the plan out in one statement that checks, under the user's lock, that they are still
 * those (`signInUnderCap`): one round trip, or two, no transaction held open. Plans overtaken
 * a few times: the locked transaction (lock, read, plan, write) instead. When an answer is lost,
 * the new row decides whether it landed.
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
  const ended =
    policy.maxSessions === 0
      ? await storeAlone(parts, request, started)
      : ((await startPlanned(parts, request, started)) ??
        (await startLocked(parts, request, started)))
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

/**
 * An uncapped sign-in: the new row alone, one statement (`signInUnderCap` without a check); a
 * lost answer asks whether it landed. Arrived too late to land: a transaction instead.
 */
async function storeAlone(
  parts: SignInParts,
  request: SignInRequest,
  started: NewSession,
): Promise<Ended[]> {
  const outcome = await settleStatement(
    parts.store.signInUnderCap({
      userId: request.userId,
      capped: false,
      started,
      seen: [],
      ends: [],
      endedAt: request.now,
      logLimit: null,
    }),
  )
  if (outcome.outcome === 'unknown') return readBack(parts, request, started, [], outcome.error)
  if (outcome.value.state !== 'late') return []
  const settled = await parts.store.transaction((tx) => tx.insertSession(started))
  await landedValue(settled, () => isStored(parts, started))
  return []
}

/** What the rules make of the user's live sessions: null when they deny, else the ends in order. */
function plan(
  parts: SignInParts,
  request: SignInRequest,
  live: LoadedSession[],
): { id: string; reason: EndReason; record: SessionRecord }[] | null {
  const { policy, now } = request
  const stored = live.map((row) =>
    storedSession(row, parts.latestActivity(row.record.tokenHash), policy.expireAfter),
  )
  const planned = planSignIn(stored, policy, now.getTime(), parts.margin)
  if (planned.deny) return null
  const byId = new Map(live.map((row) => [row.record.id, row.record]))
  const ends: [EndReason, string[]][] = [...planned.expired, ['evicted', planned.evict]]
  return ends.flatMap(([reason, ids]) =>
    ids.flatMap((id) => {
      const found = byId.get(id)
      return found ? [{ id, reason, record: found }] : []
    }),
  )
}

/**
 * The optimistic capped sign-in: plans on the live sessions this instance last saw of the user
 * (read now if none), carried out by `signInUnderCap`, planned again on what it answers when
 * they changed. The ends that landed, or null after OPTIMISTIC_ATTEMPTS overtaken plans. A
 * refusal is only ever answered on sessions read just now.
 */
async function startPlanned(
  parts: SignInParts,
  request: SignInRequest,
  started: NewSession,
): Promise<Ended[] | null> {
  const { userId, now, policy } = request
  const known = parts.liveByUser.get(userId)
  parts.liveByUser.delete(userId)
  let live = known ?? (await parts.store.listLive(userId))
  let fresh = known === undefined
  for (let attempt = 0; attempt < OPTIMISTIC_ATTEMPTS; attempt++) {
    let ends = plan(parts, request, live)
    if (!ends && !fresh) {
      live = await parts.store.listLive(userId)
      fresh = true
      ends = plan(parts, request, live)
    }
    if (!ends) throw new ProblemError(sessionLimit(policy.maxSessions))
    const notices = parts.endings.endPayloads(ends, now)
    const outcome = await settleStatement(
      parts.store.signInUnderCap({
        userId,
        capped: true,
        started,
        seen: live,
        ends: ends.map((end, i) => ({
          id: end.id,
          reason: end.reason,
          notice: notices[i] ?? null,
        })),
        endedAt: now,
        logLimit: parts.trimLog ? parts.endings.logLimit : null,
      }),
    )
    if (outcome.outcome === 'unknown') return readBack(parts, request, started, ends, outcome.error)
    // Reached the lock past its deadline (a slow way there, or this clock behind the
    // database's): the locked transaction, which keeps its deadline on this side.
    if (outcome.value.state === 'late') return null
    if (outcome.value.state === 'done') {
      const ended = new Set(outcome.value.endedIds)
      // The statement checked under the lock that the live sessions were `live`: after it, they
      // are those it did not end, and the new one.
      parts.liveByUser.set(userId, [
        ...live.filter(({ record }) => !ended.has(record.id)),
        { ...started, heldUntil: null },
      ])
      return endedAsPlanned(
        ends.filter((end) => ended.has(end.id)),
        now,
      )
    }
    live = outcome.value.live
    fresh = true
  }
  return null
}

/**
 * A sign-in whose answer was lost: it landed if the new row is there, asked under the user's
 * lock (a call still running commits first; one arriving later lands nothing), with the ends it
 * made (rows ended at its time with its reasons); else the store's failure.
 */
async function readBack(
  parts: SignInParts,
  request: SignInRequest,
  started: NewSession,
  ends: { id: string; reason: EndReason; record: SessionRecord }[],
  error: Error,
): Promise<Ended[]> {
  const { userId } = request
  if (!(await parts.store.signInLanded(userId, started.record.id).catch(() => false))) throw error
  if (ends.length === 0) return []
  const stored = await parts.store.findByIds(ends.map((end) => end.id)).catch(() => null)
  // Landed, so its check passed: the planned rows were live under the lock. Unreadable now:
  // announced as planned rather than not at all.
  if (!stored) return endedAsPlanned(ends, request.now)
  return ends.flatMap(({ id, reason }) => {
    const record = stored.find((row) => row.id === id)
    const endedHere =
      record?.endReason === reason && record.endedAt?.getTime() === request.now.getTime()
    return endedHere ? [{ record, reason }] : []
  })
}

/** Planned ends as they are stored once carried out: ended at `at`, for their reason. */
function endedAsPlanned(ends: { reason: EndReason; record: SessionRecord }[], at: Date): Ended[] {
  return ends.map(({ record, reason }) => ({
    record: { ...record, endedAt: at, endReason: reason },
    reason,
  }))
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
  const { userId, policy } = request
  const settled = await parts.store.transaction(async (tx: Statements) => {
    // Serializes this user's sign-ins so N concurrent ones cannot all see room for one more.
    await tx.lockUser(userId)
    const ends = plan(parts, request, await tx.listLive(userId))
    if (!ends) throw new ProblemError(sessionLimit(policy.maxSessions))
    const done: Ended[] = []
    const reasons = [...new Set(ends.map((end) => end.reason))]
    for (const [i, reason] of reasons.entries()) {
      const ids = ends.filter((end) => end.reason === reason).map((end) => end.id)
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
  return landedValue(settled, () => isStored(parts, started))
}

/** Whether the new session's row is stored: a sign-in whose COMMIT answer was lost landed. */
async function isStored(parts: SignInParts, started: NewSession): Promise<boolean> {
  return (await parts.store.findById(started.record.id)) !== null
}
