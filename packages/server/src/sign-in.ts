import { randomUUID } from 'node:crypto'
import type { Endings } from './ending.ts'
import { ProblemError, sessionLimit } from './problems.ts'
import { planSignIn, storedSession } from './rules.ts'
import type { IdpLink, SessionRecord } from './session.ts'
import { landedValue, type Statements, type Store } from './store.ts'
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

/**
 * Starts a session under the cap, with no HTTP in sight (the edge sets the cookie): inside one
 * transaction that locks the user, so N concurrent sign-ins with cap K leave exactly K live
 * sessions, expired sessions end with their true reason and never count, and the rules choose
 * whom to evict (or refuse: a `ProblemError` answering 403 `session_limit`). When the COMMIT's
 * answer is lost, the new row decides whether it landed.
 *
 * @example
 * const { token, record } = await signIn(parts, { userId, policy, userAgent, ip, now: new Date() })
 */
export async function signIn(parts: SignInParts, request: SignInRequest): Promise<SignedIn> {
  const { userId, policy, now } = request
  const token = generateToken()
  const record: SessionRecord = {
    id: randomUUID(),
    userId,
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
  const endedBefore: { records: SessionRecord[]; reason: EndReason }[] = []
  const started = { record, expireAfter: policy.expireAfter }
  /**
   * Ends what the cap says must go and stores the new session, inside the sign-in's
   * transaction; returns the evicted.
   */
  const startUnderCap = async (tx: Statements): Promise<SessionRecord[]> => {
    // Serializes this user's sign-ins so N concurrent ones cannot all see room for one more.
    await tx.lockUser(userId)
    const stored = (await tx.listLive(userId)).map((row) =>
      storedSession(row, parts.latestActivity(row.record.tokenHash), policy.expireAfter),
    )
    const plan = planSignIn(stored, policy, now.getTime(), parts.margin)
    if (plan.deny) throw new ProblemError(sessionLimit(policy.maxSessions))
    for (const [reason, ids] of plan.expired) {
      const end = { target: { ids }, reason, endedAt: now }
      const records = await parts.endings.endIn(tx, end, parts.trimLog)
      endedBefore.push({ reason, records })
    }
    // The eviction and the new row in one statement: one round trip fewer under the lock.
    const eviction = { target: { ids: plan.evict }, reason: 'evicted' as const, endedAt: now }
    return parts.endings.endIn(tx, eviction, parts.trimLog, started)
  }
  const settled = await parts.store.transaction(async (tx) => {
    if (policy.maxSessions > 0) return startUnderCap(tx)
    await tx.insertSession(started)
    return []
  })
  // COMMIT's answer lost: the sign-in (and the ends it made) landed if its row is there.
  const evicted = await landedValue(
    settled,
    async () => (await parts.store.findById(record.id)) !== null,
  )
  for (const { records, reason } of endedBefore) await parts.endings.afterEnd(records, reason)
  await parts.endings.afterEnd(evicted, 'evicted')
  return { token, record, evicted }
}
