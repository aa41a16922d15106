import { randomUUID } from 'node:crypto'
import { callHook, type Endings } from './ending.ts'
import {
  DEVICE_KEPT,
  type KnownDevice,
  type NewDeviceNotice,
  type ReportUse,
} from './known-device.ts'
import type { ResolvedOptions } from './options.ts'
import { type SessionInfo, type SessionRecord, toSessionInfo } from './session.ts'
import { describeStoreError, landedValue, type Store } from './store.ts'
import { generateSecret, hashToken, isReportTokenShaped, REPORT_PREFIX } from './tokens.ts'
import { parseUserAgent } from './user-agent.ts'

// Known devices and new-device alerts (issue 23): the I/O shell that records a sign-in's
// device, and on a device the user never used, stores a report link and tells the hook and the
// user's other sessions. Reports end the named session through the one end path (ending.ts).

/** The most devices the account API and the admin view list for one user. */
export const DEVICES_LISTED = 100

/** What the devices shell needs of the ward. */
export interface DevicesParts {
  options: Pick<ResolvedOptions, 'hooks' | 'logger'> & {
    newDevice: NonNullable<ResolvedOptions['newDevice']>
  }
  store: Store
  endings: Endings
  /** Drops a session from this instance's cache: a held one must be read on each request. */
  evict(tokenHash: string): void
  /** Tells this instance's streams, and (through the bus) every other instance's. */
  tell(notice: NewDeviceNotice): void
}

/** A report that ended its session: the session, and how many others the reporter ended. */
export type Reported =
  | { kind: 'reported'; sessionId: string; endedOthers: number }
  | Extract<ReportUse, { kind: 'refused' }>

/** Whom a report is made by: the reporter's own live session (if any) and "end the others". */
export interface Reporter {
  /** The reporter's own live session (if any), and its user: kept when `endOthers`. */
  sessionId: string | null
  ownerId: string | null
  endOthers: boolean
}

/**
 * A ward's known devices: sightings at sign-in, the alerts of a new one, and its report links.
 *
 * @example
 * const device = await devices.signedIn(record, deviceId, userAgent, new Date())
 */
export class Devices {
  readonly #parts: DevicesParts

  constructor(parts: DevicesParts) {
    this.#parts = parts
  }

  /** Whether new devices' sessions are held until approved (`newDevice.hold`). */
  get holds(): boolean {
    return this.#parts.options.newDevice.hold
  }

  /**
   * Records the device a session signed in from (by the hash of its id) and, when the user
   * never used it (and used others), alerts: a report link stored, the user's other sessions
   * told, `onNewDevice` called. The sign-in has committed already: a store failure here is
   * logged (without the id) and the sign-in stands, unalerted.
   */
  async signedIn(
    record: SessionRecord,
    deviceId: string,
    userAgent: string,
    now: Date,
  ): Promise<void> {
    const { store, options } = this.#parts
    try {
      const { browser, os } = parseUserAgent(userAgent)
      const { device, isNew } = await store.sightDevice(record.userId, hashToken(deviceId), {
        id: randomUUID(),
        browser,
        os,
        at: now,
        forgetBefore: new Date(now.getTime() - DEVICE_KEPT * 1000),
      })
      if (isNew) await this.#alert(record, device, now)
    } catch (error) {
      options.logger.warn(
        `sessionward: could not record the device of a sign-in (no new-device alert): ${describeStoreError(error)}`,
      )
    }
  }

  /** A new device's alerts: the report link, the other sessions' streams, the hook. */
  async #alert(record: SessionRecord, device: KnownDevice, now: Date): Promise<void> {
    const { store, options, tell, evict } = this.#parts
    const token = generateSecret(REPORT_PREFIX)
    const expiresAt = new Date(now.getTime() + options.newDevice.reportTtl * 1000)
    await store.insertReport(hashToken(token), record, expiresAt, now)
    const { hold, holdFor } = options.newDevice
    if (hold) {
      // Before its token leaves this instance: no other instance has it cached yet.
      await store.holdSession(record.id, new Date(now.getTime() + holdFor * 1000))
      evict(record.tokenHash)
    }
    const others = await store.listLive(record.userId)
    tell({
      toSessionIds: others.map(({ record: other }) => other.id).filter((id) => id !== record.id),
      sessionId: record.id,
      browser: device.browser,
      os: device.os,
      at: now.getTime(),
      ...(hold ? { held: true } : {}),
    })
    const reportUrl = new URL(options.newDevice.reportUrl)
    reportUrl.searchParams.set('token', token)
    await callHook(options.logger, 'onNewDevice', () =>
      options.hooks.onNewDevice?.({
        session: toSessionInfo(record),
        device,
        reportUrl: reportUrl.href,
      }),
    )
  }

  /**
   * What a report link stands for, changing nothing (the confirmation page a GET shows).
   *
   * @example
   * const use = await devices.inspect(token)
   */
  inspect(token: string, now = new Date()): Promise<ReportUse> {
    if (!isReportTokenShaped(token)) return Promise.resolve({ kind: 'refused', why: 'unknown' })
    return this.#parts.store.findReport(hashToken(token), now)
  }

  /**
   * Uses a report link once: its session ends `reported` (with the link's use, in one
   * transaction), then, if asked, every other session of the user but the reporter's own ends
   * `revoked`; `onReport` is called.
   *
   * @example
   * const outcome = await devices.report(token, { sessionId: null, endOthers: false })
   */
  async report(token: string, reporter: Reporter, now = new Date()): Promise<Reported> {
    if (!isReportTokenShaped(token)) return { kind: 'refused', why: 'unknown' }
    const { store, endings, options } = this.#parts
    const tokenHash = hashToken(token)
    const settled = await store.transaction(async (tx) => {
      const use = await tx.useReport(tokenHash, now)
      if (use.kind === 'refused') return { use, records: [] }
      const target = { ids: [use.sessionId], userId: use.userId }
      const records = await endings.endIn(tx, { target, reason: 'reported', endedAt: now })
      return { use, records }
    })
    // COMMIT's answer lost: the report landed if the link is used now.
    const { use, records } = await landedValue(settled, async () => {
      const after = await store.findReport(tokenHash, now)
      return after.kind === 'refused' && after.why === 'used'
    })
    if (use.kind === 'refused') return use
    await endings.afterEnd(records, 'reported')
    let endedOthers = 0
    if (reporter.endOthers) {
      // Another user's session (a shared computer) is not the reporter's to keep.
      const own = reporter.ownerId === use.userId ? reporter.sessionId : null
      const target = own === null ? { userId: use.userId } : { userId: use.userId, exceptId: own }
      endedOthers = (await endings.end(target, 'revoked')).length
    }
    // Ended before the report (a logout), its row may be gone from the log since.
    const ended = records[0] ?? (await store.findById(use.sessionId))
    const { userId, sessionId } = use
    await callHook(options.logger, 'onReport', () =>
      options.hooks.onReport?.({
        userId,
        sessionId,
        session: ended ? toSessionInfo(ended) : null,
        endedOthers,
      }),
    )
    return { kind: 'reported', sessionId, endedOthers }
  }

  /**
   * Ends one of the user's own live sessions as reported ("Not you?" in a notice): `reported`,
   * through the one end path, and `onReport`; null when it is no live session of theirs.
   *
   * @example
   * await devices.reportSession(session.userId, id)
   */
  async reportSession(userId: string, id: string): Promise<SessionInfo | null> {
    const { endings, options } = this.#parts
    const [ended] = await endings.endForGood({ id, userId }, 'reported')
    if (!ended) return null
    const session = toSessionInfo(ended)
    await callHook(options.logger, 'onReport', () =>
      options.hooks.onReport?.({ userId, sessionId: id, session, endedOthers: 0 }),
    )
    return session
  }

  /**
   * Lets one of the user's held sessions in ("Yes, it was me"); false when no live session of
   * theirs with this id waits for approval (or its hold lapsed).
   *
   * @example
   * await devices.approve(session.userId, id)
   */
  approve(userId: string, id: string, now = new Date()): Promise<boolean> {
    return this.#parts.store.approveHeld(userId, id, now)
  }

  /**
   * Ends the sessions whose hold lapsed unapproved (`reported`), up to `batch` of them, through
   * the one end path: their streams and every instance hear it. The sweep calls it each round.
   *
   * @example
   * const ended = await devices.endLapsedHolds(new Date(), 500)
   */
  async endLapsedHolds(now: Date, batch: number): Promise<number> {
    const ended = await this.#parts.endings.endClaimed(async (tx) => {
      const ids = await tx.claimLapsedHolds(now, batch)
      return ids.length > 0 ? [{ target: { ids }, reason: 'reported', endedAt: now }] : []
    })
    return ended.length
  }

  /**
   * Uses a report link the other way ("Yes, it was me" on its page): the link is spent and the
   * session it names, if held, is let in.
   *
   * @example
   * const use = await devices.approveByLink(token)
   */
  async approveByLink(token: string, now = new Date()): Promise<ReportUse> {
    if (!isReportTokenShaped(token)) return { kind: 'refused', why: 'unknown' }
    const tokenHash = hashToken(token)
    const settled = await this.#parts.store.transaction(async (tx) => {
      const use = await tx.useReport(tokenHash, now)
      if (use.kind === 'valid') await tx.approveHeld(use.userId, use.sessionId, now)
      return use
    })
    // COMMIT's answer lost: it landed if the link is used now.
    return landedValue(settled, async () => {
      const after = await this.#parts.store.findReport(tokenHash, now)
      return after.kind === 'refused' && after.why === 'used'
    })
  }

  /** A user's known devices, last seen first (at most DEVICES_LISTED). */
  list(userId: string): Promise<KnownDevice[]> {
    return this.#parts.store.listDevices(userId, DEVICES_LISTED)
  }

  /** Forgets one of a user's devices; false when it is not theirs. */
  forget(userId: string, id: string): Promise<boolean> {
    return this.#parts.store.forgetDevice(userId, id)
  }
}
