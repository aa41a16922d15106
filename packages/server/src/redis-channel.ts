import { randomUUID } from 'node:crypto'
import { type Cluster, Redis } from 'ioredis'
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
import type { NewDeviceNotice } from './known-device.ts'
import type { WardLogger } from './options.ts'

/*
 * What instances tell each other through Redis (DESIGN §3 "Many instances"). PostgreSQL stays
 * the system of record; Redis only makes the other instances' caches catch up sooner:
 *
 * 1. Every end made here is published at once; every instance drops that hash from its cache.
 * 2. Activity seen here is published in batches (every ACTIVITY_FLUSH ms, at most one entry per
 *    session per second) and kept in one sorted set, so an idle decision anywhere can read it.
 *    No cache-hit request waits for Redis: publishing is fire and forget.
 * 3. Redis down never lets anyone in: caches trust rows for cacheTtl with or without Redis, so
 *    a lost notice costs at most the single-instance bound. ioredis reconnects by itself.
 * 4. Redis never holds a request for long, and what is sent to a Redis that does not answer
 *    stays bounded. Disconnected: nothing is sent (our own client has no offline queue). Connected
 *    and silent: commands do wait in ioredis' queue (the socket is open; Linux may keep it for
 *    minutes), each for at most COMMAND_TIMEOUT. Once one has gone unanswered that long, a
 *    breaker keeps Redis off the request path for BREAK_FOR, and then for as long as the oldest
 *    command queued is still unanswered: the guess counters count in memory, idle decisions and
 *    ends use the single-instance bounds, activity waits. One activity batch at a time.
 * 5. One warning per outage and one line when it is over, from what commands get: a failure or
 *    a timeout starts an outage, the first answer after it (a PING while there is no traffic)
 *    ends it.
 * 6. A token rotated here is rotated on every instance (`publishRotation`): another instance
 *    still caching the session under its old hash would hear of a later end under the new one
 *    only, and keep answering the old token until cacheTtl.
 * 7. A new-device sign-in reaches the user's other sessions' streams on every instance
 *    (`publishNewDevice`); lost while Redis is down (the hook, the device list and the report
 *    link do not depend on it).
 */

/** What the `redis` option takes once it is a client: one server (a Sentinel-managed one too) or a Cluster. */
export type RedisClient = Redis | Cluster

const CHANNEL = 'sessionward:v1:events'
const ACTIVITY_KEY = 'sessionward:v1:activity'
// Activity reaches the other instances within this (plus Redis' own delivery).
const ACTIVITY_FLUSH = 100
// No command waits longer for Redis (the ward's own client's commandTimeout; an app's client is
// raced against it where a request waits).
export const COMMAND_TIMEOUT = 1_000
// After a command went unanswered, Redis is left off the request path this long at least (ms).
const BREAK_FOR = 3_000
// A gap this long between two looks at the queue is a pause of this process (GC, a loaded
// machine), not Redis' silence: the answer may be waiting unread.
const PAUSE = 500
// What the guess counters see as the client's status while the breaker is open: anything but
// 'ready' makes rate-limiter-flexible count in memory (its rejectIfRedisNotReady).
const BREAKER_OPEN = 'breaker-open'
// Activity older than this is dropped from the sorted set (no session idles that long alive).
const ACTIVITY_KEPT = 48 * 3600 * 1000
const PRUNE_EVERY = 60_000
/**
 * The Redis side of a ward: publishes ends and activity, hands the others' to `listener`, and
 * answers "latest activity" for idle decisions.
 *
 * @example
 * const channel = new RedisChannel('redis://127.0.0.1:6379', listener, console)
 * channel.publishEnds([{ sessionId, tokenHash, reason: 'revoked', endedAt: Date.now() }])
 */
export class RedisChannel implements Bus {
  readonly #publisher: RedisClient
  /** The publisher as the guess counters see it: not ready while the breaker is open. */
  readonly #guarded: RedisClient
  readonly #subscriber: RedisClient
  readonly #ownsPublisher: boolean
  readonly #listener: ChannelListener
  readonly #logger: WardLogger
  // Our own messages come back to us: they are recognised by this and skipped.
  readonly #instance = randomUUID()
  readonly #pendingActivity = new PendingActivity()
  readonly #timer: NodeJS.Timeout
  #lastPrune = 0
  /** An outage is logged and its end not yet. */
  #down = false
  #closed = false
  /** The breaker: no command on the request path before this (performance.now() ms). */
  #openUntil = 0
  /** The oldest command waiting for Redis at the last look, and since when it was. */
  #oldest: unknown
  #oldestSince = 0
  /** The queued command that opened the breaker: while it is unanswered, it stays open. */
  #unanswered: unknown
  #lastLook = 0
  #flushing = false
  #probing = false

  constructor(redis: RedisClient | string, listener: ChannelListener, logger: WardLogger) {
    this.#listener = listener
    this.#logger = logger
    this.#ownsPublisher = typeof redis === 'string'
    // Our own client fails fast while disconnected (nothing piles up to be sent late) and
    // gives up on an answer after COMMAND_TIMEOUT.
    this.#publisher =
      typeof redis === 'string'
        ? new Redis(redis, {
            enableOfflineQueue: false,
            maxRetriesPerRequest: 1,
            commandTimeout: COMMAND_TIMEOUT,
          })
        : redis
    this.#guarded = this.#guard(this.#publisher)
    // Subscribing waits for the connection; ioredis subscribes again after each reconnect. A
    // subscription is never timed out: it waits for messages by design.
    this.#subscriber = subscriberFor(this.#publisher)
    for (const client of [this.#publisher, this.#subscriber]) {
      client.on('error', (error: Error) => this.#wentDown(error.message))
      client.on('close', () => this.#wentDown('connection closed'))
    }
    this.#subscriber.on('message', (_channel: string, message: string) => this.#receive(message))
    this.#subscriber.subscribe(CHANNEL).catch((error: Error) => this.#wentDown(error.message))
    this.#timer = setInterval(() => this.#tick(), ACTIVITY_FLUSH)
    this.#timer.unref()
  }

  /**
   * The client the guess and login counters count on (the app's, or the channel's own from a
   * URL): its `status` is not 'ready' while the breaker is open, so they count in memory then.
   */
  get client(): RedisClient {
    return this.#guarded
  }

  /** Nothing: Redis is outside the transaction, so ends are published once they committed. */
  async sendEndsIn(): Promise<void> {}

  /** None: see `sendEndsIn`. */
  endPayloads(notices: EndNotice[]): null[] {
    return notices.map(() => null)
  }

  /** Tells every other instance that these sessions ended. Never waits, never throws. */
  publishEnds(notices: EndNotice[]): void {
    if (notices.length === 0) return
    this.#publish({
      from: this.#instance,
      ends: notices.map(endEntry),
    })
  }

  /** Tells every other instance that a session's token changed (rule 6). Never waits. */
  publishRotation(oldHash: string, newHash: string): void {
    this.#publish({ from: this.#instance, rotations: [[oldHash, newHash]] })
  }

  /** Tells every other instance of a new-device sign-in (rule 7). Never waits, never throws. */
  publishNewDevice(notice: NewDeviceNotice): void {
    this.#publish({ from: this.#instance, newDevices: [notice] })
  }

  /** Queues activity seen here for the next batch (rule 2). */
  noteActivity(tokenHash: string, at: number): void {
    this.#pendingActivity.note(tokenHash, at)
  }

  /**
   * The latest activity any instance published for these hashes (ms); empty when Redis is off
   * the request path or does not answer within COMMAND_TIMEOUT, and the caller decides on the
   * database alone.
   */
  async latestActivity(tokenHashes: string[]): Promise<Map<string, number>> {
    const found = new Map<string, number>()
    if (tokenHashes.length === 0) return found
    const scores = await this.#command(() => this.#publisher.zmscore(ACTIVITY_KEY, ...tokenHashes))
    scores?.forEach((score, i) => {
      if (score !== null) found.set(tokenHashes[i] as string, Number(score))
    })
    return found
  }

  /** Sends what is queued, then disconnects (a client the app passed in is left open). */
  async close(): Promise<void> {
    this.#flush()
    this.#closed = true
    clearInterval(this.#timer)
    this.#subscriber.disconnect()
    if (this.#ownsPublisher) await this.#publisher.quit().catch(() => undefined)
  }

  /**
   * Whether a command may be sent now (rule 4): connected, and the breaker closed. Every call
   * looks at ioredis' queue: a command unanswered for COMMAND_TIMEOUT opens the breaker, whoever
   * sent it (the counters too), and keeps it open while it stays unanswered.
   */
  #usable(now = performance.now()): boolean {
    if (this.#closed || this.#publisher.status !== 'ready') return false
    const oldest = oldestQueued(this.#publisher)
    if (oldest !== this.#oldest) {
      this.#oldest = oldest
      this.#oldestSince = now
    } else if (now - this.#lastLook > PAUSE && oldest !== this.#unanswered) {
      // A pause of this process is not Redis' silence: the answer may be waiting unread.
      this.#oldestSince = now
    } else if (oldest !== undefined && now - this.#oldestSince >= COMMAND_TIMEOUT) {
      this.#unanswered = oldest
      this.#trip(`no answer within ${COMMAND_TIMEOUT} ms`, now)
    }
    this.#lastLook = now
    return now >= this.#openUntil
  }

  #trip(why: string, now = performance.now()): void {
    this.#openUntil = now + BREAK_FOR
    this.#wentDown(why)
  }

  /**
   * Sends one command when Redis is usable and waits at most COMMAND_TIMEOUT for its answer;
   * undefined when it was not sent or not answered. The outcome drives the breaker and the log.
   */
  async #command<T>(send: () => Promise<T>): Promise<T | undefined> {
    if (!this.#usable()) return undefined
    let timer: NodeJS.Timeout | undefined
    try {
      const answer = await Promise.race([
        send(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`no answer within ${COMMAND_TIMEOUT} ms`)),
            COMMAND_TIMEOUT,
          )
        }),
      ])
      this.#answered()
      return answer
    } catch (error) {
      this.#trip((error as Error).message)
      return undefined
    } finally {
      clearTimeout(timer)
    }
  }

  #publish(message: Message): void {
    void this.#command(() => this.#publisher.publish(CHANNEL, JSON.stringify(message)))
  }

  // Every ACTIVITY_FLUSH: a PING while an outage is logged (no traffic may come to end it),
  // else the activity batch.
  #tick(): void {
    if (!this.#usable()) return
    if (this.#down) this.#probe()
    else this.#flush()
  }

  #probe(): void {
    // Back means both connections: ends published before the subscriber is would be lost.
    if (this.#probing || this.#subscriber.status !== 'ready') return
    this.#probing = true
    void this.#command(() => this.#publisher.ping()).finally(() => {
      this.#probing = false
    })
  }

  #flush(): void {
    // One batch at a time: a batch Redis has not answered is never followed by another.
    if (this.#pendingActivity.size === 0 || this.#flushing || !this.#usable()) return
    const activity = this.#pendingActivity.take()
    const now = Date.now()
    const pipeline = this.#publisher.pipeline()
    // GT: a slower instance's older activity never moves the shared value back.
    pipeline.zadd(ACTIVITY_KEY, 'GT', ...activity.flatMap(([hash, at]) => [at, hash]))
    if (now - this.#lastPrune > PRUNE_EVERY) {
      this.#lastPrune = now
      pipeline.zremrangebyscore(ACTIVITY_KEY, '-inf', now - ACTIVITY_KEPT)
    }
    pipeline.publish(CHANNEL, JSON.stringify({ from: this.#instance, activity }))
    this.#flushing = true
    const answered = pipeline.exec().then(firstError)
    void answered.then(
      () => (this.#flushing = false),
      () => (this.#flushing = false),
    )
    void this.#command(() => answered)
  }

  #receive(raw: string): void {
    const message = parseMessage(raw)
    if (message && message.from !== this.#instance) deliver(message, this.#listener)
  }

  // Logged once per outage, not per failed command (rule 5).
  #wentDown(why: string): void {
    if (this.#down || this.#closed) return
    this.#down = true
    this.#logger.warn(
      `sessionward: Redis unavailable (${why}); ends reach other instances through the database within cacheTtl until it is back`,
    )
  }

  // An answer to a command sent while the breaker was closed, with both connections up.
  #answered(): void {
    if (!this.#down || this.#closed || this.#subscriber.status !== 'ready') return
    if (performance.now() < this.#openUntil) return
    this.#down = false
    this.#logger.info('sessionward: Redis available again; ends and activity are shared')
  }

  /**
   * The client as the counters see it: the same client (every method runs on it), with a
   * `status` that is not 'ready' while the breaker is open.
   */
  #guard(client: RedisClient): RedisClient {
    return new Proxy(client, {
      get: (target, key) => {
        if (key === 'status') return this.#usable() ? target.status : BREAKER_OPEN
        const value: unknown = Reflect.get(target, key, target)
        return typeof value === 'function' && key !== 'constructor' ? value.bind(target) : value
      },
    })
  }
}

/**
 * The oldest command a client has sent and Redis not yet answered. A Cluster client has no
 * such queue: then only the ward's own commands (timed out) open the breaker.
 */
function oldestQueued(client: RedisClient): unknown {
  return ((client as Redis).commandQueue as Redis['commandQueue'] | undefined)?.peekFront()
}

/**
 * A second connection like `client`'s, to subscribe on: its commands wait for the connection
 * and are never timed out (a subscription waits for messages by design). A Cluster's duplicate
 * takes its startup nodes first and the per-node options apart; duck-typed, as the app's
 * ioredis may be another copy than ours.
 */
function subscriberFor(client: RedisClient): RedisClient {
  const waiting = { maxRetriesPerRequest: null, commandTimeout: undefined }
  return (client as Cluster).isCluster === true
    ? (client as Cluster).duplicate([], { enableOfflineQueue: true, redisOptions: waiting })
    : (client as Redis).duplicate({ enableOfflineQueue: true, ...waiting })
}

/** A pipeline's answers, or the first error one of its commands got (a timeout among them). */
function firstError(results: [Error | null, unknown][] | null): void {
  const failed = results?.find(([error]) => error)?.[0]
  if (failed) throw failed
}
