import { randomUUID } from 'node:crypto'
import { Redis } from 'ioredis'
import type { WardLogger } from './options.ts'
import { END_REASONS, type EndReason } from './vocabulary.ts'

/*
 * What instances tell each other through Redis (DESIGN §3 "Many instances"). PostgreSQL stays
 * the system of record; Redis only makes the other instances' caches catch up sooner:
 *
 * 1. Every end made here is published at once; every instance drops that hash from its cache.
 * 2. Activity seen here is published in batches (every ACTIVITY_FLUSH ms, at most one entry per
 *    session per second) and kept in one sorted set, so an idle decision anywhere can read it.
 *    No cache-hit request waits for Redis: publishing is fire and forget.
 * 3. Redis down never lets anyone in: caches trust rows for cacheTtl with or without Redis, so
 *    a lost notice costs at most the single-instance bound. Nothing is queued while Redis is
 *    away (commands are sent only when the client is ready); ioredis reconnects by itself.
 */

/** An end another instance must hear about. */
export interface EndNotice {
  sessionId: string
  tokenHash: string
  reason: EndReason
  /** When the session ended (ms). */
  endedAt: number
}

/** What the channel hands to this instance from the others. */
export interface ChannelListener {
  ended(notice: EndNotice): void
  activity(tokenHash: string, at: number): void
}

const CHANNEL = 'sessionward:v1:events'
const ACTIVITY_KEY = 'sessionward:v1:activity'
// Activity reaches the other instances within this (plus Redis' own delivery).
const ACTIVITY_FLUSH = 100
// An idle decision waits at most this long for Redis before it decides on the database alone.
const LOOKUP_TIMEOUT = 1_000
// Activity older than this is dropped from the sorted set (no session idles that long alive).
const ACTIVITY_KEPT = 48 * 3600 * 1000
const PRUNE_EVERY = 60_000
const HASH = /^[0-9a-f]{64}$/

/** A message on the channel: ends or activity, from one instance. */
interface Message {
  from: string
  ends?: [string, string, string, number][]
  activity?: [string, number][]
}

/**
 * The Redis side of a ward: publishes ends and activity, hands the others' to `listener`, and
 * answers "latest activity" for idle decisions.
 *
 * @example
 * const channel = new RedisChannel('redis://127.0.0.1:6379', listener, console)
 * channel.publishEnds([{ sessionId, tokenHash, reason: 'revoked', endedAt: Date.now() }])
 */
export class RedisChannel {
  readonly #publisher: Redis
  readonly #subscriber: Redis
  readonly #ownsPublisher: boolean
  readonly #listener: ChannelListener
  readonly #logger: WardLogger
  // Our own messages come back to us: they are recognised by this and skipped.
  readonly #instance = randomUUID()
  readonly #pendingActivity = new Map<string, number>()
  readonly #timer: NodeJS.Timeout
  #lastPrune = 0
  #down = false
  #closed = false

  constructor(redis: Redis | string, listener: ChannelListener, logger: WardLogger) {
    this.#listener = listener
    this.#logger = logger
    this.#ownsPublisher = typeof redis === 'string'
    // Our own client fails fast while disconnected: nothing piles up to be sent late.
    this.#publisher =
      typeof redis === 'string'
        ? new Redis(redis, { enableOfflineQueue: false, maxRetriesPerRequest: 1 })
        : redis
    // Subscribing waits for the connection; ioredis subscribes again after each reconnect.
    this.#subscriber = this.#publisher.duplicate({
      enableOfflineQueue: true,
      maxRetriesPerRequest: null,
    })
    for (const client of [this.#publisher, this.#subscriber]) {
      client.on('error', (error: Error) => this.#wentDown(error.message))
      client.on('close', () => this.#wentDown('connection closed'))
      client.on('ready', () => this.#cameBack())
    }
    this.#subscriber.on('message', (_channel: string, message: string) => this.#receive(message))
    this.#subscriber.subscribe(CHANNEL).catch((error: Error) => this.#wentDown(error.message))
    this.#timer = setInterval(() => this.#flush(), ACTIVITY_FLUSH)
    this.#timer.unref()
  }

  /** The client commands go through (the app's, or the channel's own from a URL). */
  get client(): Redis {
    return this.#publisher
  }

  /** Tells every other instance that these sessions ended. Never waits, never throws. */
  publishEnds(notices: EndNotice[]): void {
    if (notices.length === 0) return
    this.#publish({
      from: this.#instance,
      ends: notices.map((n) => [n.sessionId, n.tokenHash, n.reason, n.endedAt]),
    })
  }

  /** Queues activity seen here for the next batch (rule 2). */
  noteActivity(tokenHash: string, at: number): void {
    if (at > (this.#pendingActivity.get(tokenHash) ?? 0)) this.#pendingActivity.set(tokenHash, at)
  }

  /**
   * The latest activity any instance published for these hashes (ms); empty when Redis does not
   * answer within LOOKUP_TIMEOUT, and the caller decides on the database alone.
   */
  async latestActivity(tokenHashes: string[]): Promise<Map<string, number>> {
    const found = new Map<string, number>()
    if (tokenHashes.length === 0 || !this.#ready()) return found
    let timer: NodeJS.Timeout | undefined
    try {
      const scores = await Promise.race([
        this.#publisher.zmscore(ACTIVITY_KEY, ...tokenHashes),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error('no answer in time')), LOOKUP_TIMEOUT)
        }),
      ])
      scores.forEach((score, i) => {
        if (score !== null) found.set(tokenHashes[i] as string, Number(score))
      })
    } catch (error) {
      this.#wentDown((error as Error).message)
    } finally {
      clearTimeout(timer)
    }
    return found
  }

  /** Sends what is queued, then disconnects (a client the app passed in is left open). */
  async close(): Promise<void> {
    this.#closed = true
    clearInterval(this.#timer)
    this.#flush()
    this.#subscriber.disconnect()
    if (this.#ownsPublisher) await this.#publisher.quit().catch(() => undefined)
  }

  #ready(): boolean {
    return this.#publisher.status === 'ready'
  }

  #publish(message: Message): void {
    if (!this.#ready()) return
    this.#publisher
      .publish(CHANNEL, JSON.stringify(message))
      .catch((error: Error) => this.#wentDown(error.message))
  }

  #flush(): void {
    if (this.#pendingActivity.size === 0 || !this.#ready()) return
    const activity = [...this.#pendingActivity]
    this.#pendingActivity.clear()
    const now = Date.now()
    const pipeline = this.#publisher.pipeline()
    // GT: a slower instance's older activity never moves the shared value back.
    pipeline.zadd(ACTIVITY_KEY, 'GT', ...activity.flatMap(([hash, at]) => [at, hash]))
    if (now - this.#lastPrune > PRUNE_EVERY) {
      this.#lastPrune = now
      pipeline.zremrangebyscore(ACTIVITY_KEY, '-inf', now - ACTIVITY_KEPT)
    }
    pipeline.publish(CHANNEL, JSON.stringify({ from: this.#instance, activity }))
    pipeline.exec().catch((error: Error) => this.#wentDown(error.message))
  }

  #receive(raw: string): void {
    const message = parseMessage(raw)
    if (!message || message.from === this.#instance) return
    for (const [sessionId, tokenHash, reason, endedAt] of message.ends ?? []) {
      this.#listener.ended({ sessionId, tokenHash, reason: reason as EndReason, endedAt })
    }
    for (const [tokenHash, at] of message.activity ?? []) this.#listener.activity(tokenHash, at)
  }

  // Logged once per outage, not per failed command.
  #wentDown(why: string): void {
    if (this.#down || this.#closed) return
    this.#down = true
    this.#logger.warn(
      `sessionward: Redis unavailable (${why}); ends reach other instances through the database within cacheTtl until it is back`,
    )
  }

  // Back only when both connections are: ends published before then would be lost.
  #cameBack(): void {
    if (!this.#down || !this.#ready() || this.#subscriber.status !== 'ready') return
    this.#down = false
    this.#logger.info('sessionward: Redis available again; ends and activity are shared')
  }
}

/** A channel message, or null when it is not one of ours (anything else on Redis is ignored). */
function parseMessage(raw: string): Message | null {
  let value: unknown
  try {
    value = JSON.parse(raw)
  } catch {
    return null
  }
  if (typeof value !== 'object' || value === null) return null
  const { from, ends = [], activity = [] } = value as Record<string, unknown>
  if (typeof from !== 'string' || !Array.isArray(ends) || !Array.isArray(activity)) return null
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
  return endsOk && activityOk ? (value as Message) : null
}
