import type { EndTarget } from './store.ts'
import type { EndReason } from './vocabulary.ts'

/** A session end the database has not taken yet. */
export interface PendingEnd {
  target: EndTarget
  reason: EndReason
  /** When it was asked for: every retry ends at this time, so it knows its own earlier end. */
  endedAt: Date
}

/** How pending ends are retried: `end` stores one (throws while the store is out). */
export interface PendingEndsOptions {
  end(pending: PendingEnd): Promise<void>
  /** Told once per outage that the set is full (no token, no hash in the message). */
  warn(message: string): void
  /** At most this many ends kept; more are refused (the caller still answers 503). */
  max: number
  /** First and longest wait between retries (ms): doubling, bounded. */
  minDelay: number
  maxDelay: number
}

/**
 * Ends (logout, revoke) that could not reach the database, kept until it takes them. Retried
 * in the background, oldest first, with a doubling wait bounded by `maxDelay`; while the store
 * is out only the oldest is tried, once per wait, so a recovering database is not stormed.
 * The set is capped (`max`), so an outage cannot grow it without bound.
 */
export class PendingEnds {
  readonly #options: PendingEndsOptions
  readonly #ends = new Map<string, PendingEnd>()
  /** Attempts in flight by key: a client's retry and the background one never run one end twice. */
  readonly #attempts = new Map<string, Promise<void>>()
  #timer: NodeJS.Timeout | null = null
  #delay: number
  #warned = false

  constructor(options: PendingEndsOptions) {
    this.#options = options
    this.#delay = options.minDelay
  }

  get size(): number {
    return this.#ends.size
  }

  /** The pending end under `key`, if one is kept. */
  end(key: string): PendingEnd | undefined {
    return this.#ends.get(key)
  }

  /** Keeps an end for retrying; false when the set is full (told once per outage). */
  add(key: string, end: PendingEnd): boolean {
    if (!this.#ends.has(key) && this.#ends.size >= this.#options.max) {
      if (!this.#warned) {
        this.#warned = true
        this.#options.warn(
          `sessionward: ${this.#options.max} session ends are already waiting for the store; further ends during this outage are not kept for retrying`,
        )
      }
      return false
    }
    this.#ends.set(key, end)
    this.#schedule()
    return true
  }

  /** Tries the end under `key` now; true once the store has taken it (or none is pending). */
  async flush(key: string): Promise<boolean> {
    const end = this.#ends.get(key)
    if (!end) return true
    await this.#attempt(key, end)
    if (this.#ends.get(key) === end) this.#ends.delete(key)
    return true
  }

  /** Stores `end`, or joins the attempt at it already in flight. */
  #attempt(key: string, end: PendingEnd): Promise<void> {
    let attempt = this.#attempts.get(key)
    if (!attempt) {
      attempt = this.#options.end(end).finally(() => this.#attempts.delete(key))
      this.#attempts.set(key, attempt)
    }
    return attempt
  }

  /** Stops retrying and drops the ends still pending; returns how many, for a log line. */
  clear(): number {
    if (this.#timer) clearTimeout(this.#timer)
    this.#timer = null
    const dropped = this.#ends.size
    this.#ends.clear()
    return dropped
  }

  #schedule(): void {
    if (this.#timer || this.#ends.size === 0) return
    this.#timer = setTimeout(() => void this.#retry(), this.#delay)
    // A pending end never keeps the process alive by itself.
    this.#timer.unref()
  }

  async #retry(): Promise<void> {
    this.#timer = null
    for (const [key, end] of this.#ends) {
      try {
        await this.#attempt(key, end)
      } catch {
        // Still out: wait longer (bounded) and try the oldest again.
        this.#delay = Math.min(this.#delay * 2, this.#options.maxDelay)
        this.#schedule()
        return
      }
      if (this.#ends.get(key) === end) this.#ends.delete(key)
    }
    this.#delay = this.#options.minDelay
    this.#warned = false
  }
}
