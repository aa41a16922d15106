import type { NewDeviceNotice } from './known-device.ts'
import type { Statements } from './store.ts'
import { END_REASONS, type EndReason } from './vocabulary.ts'

// What every bus carries between instances (DESIGN §3 "Many instances"), whichever it rides on:
// Redis pub/sub (redis-channel.ts) or PostgreSQL's LISTEN/NOTIFY (postgres-bus.ts). PostgreSQL
// stays the system of record on both: a bus only makes the other instances' caches catch up
// sooner than cacheTtl, and losing it costs at most that bound.

/** An end another instance must hear about. */
export interface EndNotice {
  sessionId: string
  tokenHash: string
  reason: EndReason
  /** When the session ended (ms). */
  endedAt: number
}

/** What a bus hands to this instance from the others. */
export interface ChannelListener {
  ended(notice: EndNotice): void
  activity(tokenHash: string, at: number): void
  /** A session's token was rotated on another instance: `oldHash` is retired. */
  rotated(oldHash: string, newHash: string): void
  /** A new-device sign-in whose notice this instance's streams of those sessions must hear. */
  newDevice(notice: NewDeviceNotice): void
}

/** What the ward asks of its bus. No call on the request path waits for another instance. */
export interface Bus {
  /**
   * Sends the ends of the transaction `tx` with it, so that the others hear them only if it
   * commits (PostgreSQL's NOTIFY). A bus outside the database sends nothing here.
   */
  sendEndsIn(tx: Statements, notices: EndNotice[]): Promise<void>
  /**
   * What `sendEndsIn` would send, one payload per end (null each: a bus outside the database),
   * for a statement that sends each one itself, only for the rows it does end (a sign-in's).
   */
  endPayloads(notices: EndNotice[]): (string | null)[]
  /**
   * Tells the others that these sessions ended: ends that committed (unless `sendEndsIn` sent
   * them already) and ends refused here while the store is out. Never waits, never throws.
   */
  publishEnds(notices: EndNotice[]): void
  /** Tells the others that a session's token changed (it committed). Never waits. */
  publishRotation(oldHash: string, newHash: string): void
  /** Tells the others' streams of the user's sessions of a new-device sign-in. Never waits. */
  publishNewDevice(notice: NewDeviceNotice): void
  /** Queues activity seen here for the next batch. */
  noteActivity(tokenHash: string, at: number): void
  /** The latest activity the others shared for these hashes, where the bus keeps it (ms). */
  latestActivity(tokenHashes: string[]): Promise<Map<string, number>>
  /** Sends what is queued, then leaves the bus. */
  close(): Promise<void>
}

/** A message on a bus: ends, activity, rotations or new-device notices, from one instance. */
export interface Message {
  from: string
  ends?: [string, string, string, number][]
  activity?: [string, number][]
  rotations?: [string, string][]
  newDevices?: NewDeviceNotice[]
  /** A test message an instance sends itself at start, to learn that it hears the bus. */
  probe?: string
}

const HASH = /^[0-9a-f]{64}$/

/**
 * Activity seen here and not sent yet: the latest time per token hash, sent as one batch.
 *
 * @example
 * pending.note(tokenHash, Date.now())
 * const batch = pending.take() // [[tokenHash, at]], and empty again
 */
export class PendingActivity {
  readonly #latest = new Map<string, number>()

  get size(): number {
    return this.#latest.size
  }

  /** Keeps `at` for the hash unless a later time is kept already. */
  note(tokenHash: string, at: number): void {
    if (at > (this.#latest.get(tokenHash) ?? 0)) this.#latest.set(tokenHash, at)
  }

  /** What is kept, as a batch's entries; nothing is kept after. */
  take(): [string, number][] {
    const batch = [...this.#latest]
    this.#latest.clear()
    return batch
  }
}

/**
 * Hands a message's ends, rotations and activity to `listener`, rotations first (an end may
 * name the new hash).
 *
 * @example
 * deliver(parseMessage(raw), listener)
 */
export function deliver(message: Message, listener: ChannelListener): void {
  for (const [oldHash, newHash] of message.rotations ?? []) listener.rotated(oldHash, newHash)
  for (const [sessionId, tokenHash, reason, endedAt] of message.ends ?? []) {
    listener.ended({ sessionId, tokenHash, reason: reason as EndReason, endedAt })
  }
  for (const [tokenHash, at] of message.activity ?? []) listener.activity(tokenHash, at)
  for (const notice of message.newDevices ?? []) listener.newDevice(notice)
}

/** An end as a message carries it. */
export function endEntry(notice: EndNotice): [string, string, string, number] {
  return [notice.sessionId, notice.tokenHash, notice.reason, notice.endedAt]
}

/**
 * A bus message, or null when it is not one of ours (anything else on the channel is ignored).
 *
 * @example
 * parseMessage('{"from":"…","ends":[[id, hash, "logout", 1765000000000]]}')
 */
export function parseMessage(raw: string): Message | null {
  let value: unknown
  try {
    value = JSON.parse(raw)
  } catch {
    return null
  }
  if (typeof value !== 'object' || value === null) return null
  const {
    from,
    ends = [],
    activity = [],
    rotations = [],
    newDevices = [],
  } = value as Record<string, unknown>
  if (
    typeof from !== 'string' ||
    !Array.isArray(ends) ||
    !Array.isArray(activity) ||
    !Array.isArray(rotations) ||
    !Array.isArray(newDevices)
  ) {
    return null
  }
  const endsOk = ends.every(
    (e) =>
      Array.isArray(e) &&
      typeof e[0] === 'string' &&
      typeof e[1] === 'string' &&
      HASH.test(e[1]) &&
      (END_REASONS as readonly unknown[]).includes(e[2]) &&
      Number.isFinite(e[3]),
  )
  const activityOk = activity.every(
    (a) => Array.isArray(a) && typeof a[0] === 'string' && HASH.test(a[0]) && Number.isFinite(a[1]),
  )
  const rotationsOk = rotations.every(
    (r) =>
      Array.isArray(r) &&
      typeof r[0] === 'string' &&
      HASH.test(r[0]) &&
      typeof r[1] === 'string' &&
      HASH.test(r[1]),
  )
  const newDevicesOk = newDevices.every(isNewDeviceNotice)
  return endsOk && activityOk && rotationsOk && newDevicesOk ? (value as Message) : null
}

function isNewDeviceNotice(value: unknown): value is NewDeviceNotice {
  if (typeof value !== 'object' || value === null) return false
  const { toSessionIds, sessionId, browser, os, at } = value as Record<string, unknown>
  const nameOk = (name: unknown) => name === null || typeof name === 'string'
  return (
    Array.isArray(toSessionIds) &&
    toSessionIds.every((id) => typeof id === 'string') &&
    typeof sessionId === 'string' &&
    nameOk(browser) &&
    nameOk(os) &&
    Number.isFinite(at)
  )
}
