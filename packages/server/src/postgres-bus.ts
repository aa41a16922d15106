import { randomUUID } from 'node:crypto'
import {
  type Bus,
  type ChannelListener,
  deliver,
  type EndNotice,
  endEntry,
  type Message,
  PendingActivity,
  parseMessage,
} from './bus.ts'
import type { BusClient } from './database.ts'
import { WardOptionsError } from './errors.ts'
import type { NewDeviceNotice } from './known-device.ts'
import type { WardLogger } from './options.ts'
import { describeStoreError, heartbeat, listen, type Statements, type Store } from './store.ts'

/*
 * PostgreSQL as the bus (`bus: 'postgres'`): what instances tell each other travels by NOTIFY on
 * one channel, and each instance LISTENs on one connection of its own, outside the pool.
 *
 * 1. An end is sent by a NOTIFY inside the transaction that ends the row: PostgreSQL delivers
 *    it when that transaction commits and never when it rolls back, so an instance hears only
 *    ends that are stored.
 * 2. Activity and token rotations are sent after they happened, activity in batches (every
 *    ACTIVITY_FLUSH ms, one entry per session per batch), as on the Redis channel. What is heard
 *    goes straight into this instance's cache: there is no shared store to ask later.
 * 3. The listening connection lost (a restart, a failover, pg_terminate_backend, a heartbeat
 *    unanswered): one warning, then reconnects with backoff; once it LISTENs again, the ends it
 *    may have missed are read back from the table by `ended_at` and heard as if notified. Until
 *    then caches trust rows for cacheTtl, as without a bus.
 * 4. A connection that answers has missed nothing (see `heartbeat`): the replay starts at the
 *    later of the last heartbeat sent and the last end heard, less what may separate an end's
 *    `ended_at` (its instance's clock, before its transaction) from its commit: storeTimeout
 *    and CLOCK_SKEW.
 * 5. At start, the instance must hear a NOTIFY it sends itself, or the ward does not start: a
 *    pooler in transaction mode (PgBouncer) accepts LISTEN on whichever server connection it
 *    picks and then gives that connection to someone else, so nothing would ever be heard.
 */

const ACTIVITY_FLUSH = 100
// A NOTIFY payload must stay under 8000 bytes: an end entry is under 150, an activity one 90.
const ENDS_PER_MESSAGE = 40
const ACTIVITY_PER_MESSAGE = 70
const RECONNECT_FIRST = 250
const RECONNECT_MAX = 10_000
const HEARTBEAT_EVERY = 5_000
// How far apart the clocks of two instances may be (an end's ended_at is its instance's time).
const CLOCK_SKEW = 1_000
const REPLAY_PAGE = 1_000

/** What the PostgreSQL bus needs of the ward. */
export interface PostgresBusParts {
  store: Store
  listener: ChannelListener
  logger: WardLogger
  /** The ward's storeTimeout (ms): the bound on each bus statement and on the start probe. */
  storeTimeout: number
}

/**
 * Ends, activity and rotations shared through PostgreSQL's LISTEN/NOTIFY.
 *
 * @example
 * const bus = new PostgresBus({ store, listener, logger, storeTimeout: 5000 })
 * await bus.start(await busConnector(orm))
 */
export class PostgresBus implements Bus {
  readonly #parts: PostgresBusParts
  // Our own messages come back to us: they are recognised by this and skipped.
  readonly #instance = randomUUID()
  readonly #pendingActivity = new PendingActivity()
  /** Notifies sent outside a transaction and not answered yet: `close()` waits for them. */
  readonly #sending = new Set<Promise<void>>()
  readonly #probes = new Map<string, () => void>()
  /** The activity batches and heartbeats, from `start()` on. */
  #timer: NodeJS.Timeout | undefined
  /** Makes a new connection outside the pool (see `busConnector`); set by `start()`. */
  #connect: () => BusClient = () => {
    throw new Error('sessionward: the PostgreSQL bus connects only once started')
  }
  #client: BusClient | null = null
  /** The client LISTENs (and, after an outage, has replayed): heartbeats go to it. */
  #listening = false
  /** Every end that committed before this (ms, less the margin of rule 4) was heard. */
  #heardUntil = 0
  #attempt = 0
  #reconnecting: NodeJS.Timeout | null = null
  #lastHeartbeat = 0
  #flushing = false
  #closed = false

  constructor(parts: PostgresBusParts) {
    this.#parts = parts
  }

  /**
   * Connects, LISTENs and hears a NOTIFY of its own (rule 5). A database that cannot be reached
   * yet is not a start error: the bus reconnects as after an outage. A LISTEN refused, or a
   * NOTIFY never heard, is: a `WardOptionsError` that says why.
   */
  async start(connect: () => BusClient): Promise<void> {
    this.#connect = connect
    this.#timer = setInterval(() => this.#tick(), ACTIVITY_FLUSH)
    this.#timer.unref()
    const client = connect()
    this.#adopt(client)
    try {
      await client.connect()
    } catch (error) {
      this.#lost(client, describeStoreError(error))
      return
    }
    try {
      await this.#bounded(listen(client), 'LISTEN')
    } catch (error) {
      await this.close()
      throw new WardOptionsError(
        `bus: 'postgres' could not LISTEN (${describeStoreError(error)}). A pooler in transaction mode (PgBouncer's pool_mode = transaction) cannot LISTEN: point database at PostgreSQL itself or at a pool in session mode`,
      )
    }
    this.#heardUntil = Date.now()
    this.#listening = true
    if (!(await this.#probe())) {
      await this.close()
      throw new WardOptionsError(
        `bus: 'postgres' sent a NOTIFY and did not hear it within storeTimeout (${this.#parts.storeTimeout / 1000} s). A pooler in transaction mode (PgBouncer's pool_mode = transaction) accepts LISTEN but never delivers what it listens to: point database at PostgreSQL itself or at a pool in session mode`,
      )
    }
  }

  async sendEndsIn(tx: Statements, notices: EndNotice[]): Promise<void> {
    await tx.notify(this.#messages('ends', notices.map(endEntry), ENDS_PER_MESSAGE))
  }

  endPayloads(notices: EndNotice[]): string[] {
    return this.#messages('ends', notices.map(endEntry), 1)
  }

  /**
   * Nothing: an end that committed was sent by its own transaction (rule 1), and one the store
   * has not taken cannot travel through the store.
   */
  publishEnds(): void {}

  publishRotation(oldHash: string, newHash: string): void {
    this.#send(this.#messages('rotations', [[oldHash, newHash]], 1))
  }

  publishNewDevice(notice: NewDeviceNotice): void {
    this.#send(this.#messages('newDevices', [notice], 1))
  }

  noteActivity(tokenHash: string, at: number): void {
    this.#pendingActivity.note(tokenHash, at)
  }

  /** Nothing to ask: activity heard is in this instance's cache already (rule 2). */
  async latestActivity(): Promise<Map<string, number>> {
    return new Map()
  }

  async close(): Promise<void> {
    this.#flush()
    this.#closed = true
    clearInterval(this.#timer)
    if (this.#reconnecting) clearTimeout(this.#reconnecting)
    await Promise.all(this.#sending)
    const client = this.#client
    this.#client = null
    await client?.end().catch(() => undefined)
  }

  /** `entries` as NOTIFY payloads of at most `perMessage` entries each. */
  #messages<K extends 'ends' | 'activity' | 'rotations' | 'newDevices'>(
    key: K,
    entries: NonNullable<Message[K]>,
    perMessage: number,
  ): string[] {
    const payloads: string[] = []
    for (let i = 0; i < entries.length; i += perMessage) {
      payloads.push(
        JSON.stringify({ from: this.#instance, [key]: entries.slice(i, i + perMessage) }),
      )
    }
    return payloads
  }

  /** Sends payloads outside any transaction; a failure loses them (rows still carry the truth). */
  #send(payloads: string[]): Promise<void> {
    const sent = this.#parts.store.notify(payloads).catch(() => undefined)
    const tracked = sent.finally(() => this.#sending.delete(tracked))
    this.#sending.add(tracked)
    return tracked
  }

  /** Makes `client` the listening connection; its events count only while it is. */
  #adopt(client: BusClient): void {
    this.#client = client
    client.on('notification', ({ payload }) => {
      if (this.#client === client && payload) this.#receive(payload)
    })
    client.on('error', (error) => this.#lost(client, describeStoreError(error)))
    client.on('end', () => this.#lost(client, 'connection closed'))
  }

  #receive(raw: string): void {
    const message = parseMessage(raw)
    if (!message) return
    for (const [, , , endedAt] of message.ends ?? []) {
      this.#heardUntil = Math.max(this.#heardUntil, endedAt)
    }
    if (message.from !== this.#instance) deliver(message, this.#parts.listener)
    else if (message.probe) this.#probes.get(message.probe)?.()
  }

  /** Whether a NOTIFY sent through the pool reaches the listening connection within the bound. */
  async #probe(): Promise<boolean> {
    const probe = randomUUID()
    const heard = new Promise<void>((resolve) => this.#probes.set(probe, resolve))
    try {
      await this.#parts.store.notify([JSON.stringify({ from: this.#instance, probe })])
      await this.#bounded(heard, 'the test NOTIFY')
      return true
    } catch {
      return false
    } finally {
      this.#probes.delete(probe)
    }
  }

  /** `work`, or a rejection once storeTimeout passes first. */
  async #bounded<T>(work: Promise<T>, what: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${what}: no answer within ${this.#parts.storeTimeout} ms`)),
        this.#parts.storeTimeout,
      )
    })
    try {
      return await Promise.race([work, late])
    } finally {
      clearTimeout(timer)
    }
  }

  // Logged once per outage: further failed attempts say nothing until it is back (rule 3).
  #lost(client: BusClient, why: string): void {
    if (this.#client !== client || this.#closed) return
    this.#client = null
    this.#listening = false
    client.end().catch(() => undefined)
    if (this.#attempt === 0) {
      this.#parts.logger.warn(
        `sessionward: PostgreSQL bus listener lost (${why}); ends reach this instance through the database within cacheTtl until it is back`,
      )
    }
    this.#scheduleReconnect()
  }

  #scheduleReconnect(): void {
    const delay = Math.min(RECONNECT_MAX, RECONNECT_FIRST * 2 ** this.#attempt)
    this.#attempt++
    this.#reconnecting = setTimeout(() => void this.#reconnect(), delay)
    this.#reconnecting.unref()
  }

  /** LISTENs on a new connection, then replays the ends committed while nobody listened. */
  async #reconnect(): Promise<void> {
    this.#reconnecting = null
    if (this.#closed) return
    const client = this.#connect()
    this.#adopt(client)
    const since = this.#heardUntil - this.#parts.storeTimeout - CLOCK_SKEW
    try {
      await this.#bounded(client.connect(), 'connect')
      await this.#bounded(listen(client), 'LISTEN')
      const replayed = await this.#replay(new Date(since))
      if (this.#client !== client) return
      this.#listening = true
      this.#attempt = 0
      this.#parts.logger.info(
        `sessionward: PostgreSQL bus listener back; ${replayed} end(s) since it was lost read back from the database`,
      )
    } catch {
      // Another attempt later; the outage was logged when it began.
      if (this.#client !== client || this.#closed) return
      this.#client = null
      client.end().catch(() => undefined)
      this.#scheduleReconnect()
    }
  }

  /** Hears every end stored at or after `since` (rule 3); returns how many. */
  async #replay(since: Date): Promise<number> {
    let after: { endedAt: Date; sessionId: string } | null = null
    let count = 0
    for (;;) {
      const ends = await this.#parts.store.endsSince(since, after, REPLAY_PAGE)
      for (const end of ends) {
        this.#heardUntil = Math.max(this.#heardUntil, end.endedAt.getTime())
        this.#parts.listener.ended({ ...end, endedAt: end.endedAt.getTime() })
      }
      count += ends.length
      const last = ends.at(-1)
      if (!last || ends.length < REPLAY_PAGE) return count
      after = last
    }
  }

  // Every ACTIVITY_FLUSH: the activity batch, and a heartbeat every HEARTBEAT_EVERY.
  #tick(): void {
    this.#flush()
    const now = Date.now()
    const client = this.#client
    if (!client || !this.#listening || now - this.#lastHeartbeat < HEARTBEAT_EVERY) return
    this.#lastHeartbeat = now
    this.#bounded(heartbeat(client), 'heartbeat').then(
      () => {
        if (this.#client === client) this.#heardUntil = Math.max(this.#heardUntil, now)
      },
      (error: unknown) => this.#lost(client, describeStoreError(error)),
    )
  }

  #flush(): void {
    // One batch at a time: a batch the database has not answered is never followed by another.
    if (this.#pendingActivity.size === 0 || this.#flushing || this.#closed) return
    const activity = this.#pendingActivity.take()
    this.#flushing = true
    void this.#send(this.#messages('activity', activity, ACTIVITY_PER_MESSAGE)).finally(() => {
      this.#flushing = false
    })
  }
}
