import { isIPv4, isIPv6 } from 'node:net'
import {
  type RateLimiterAbstract,
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
  RLWrapperTimeouts,
} from 'rate-limiter-flexible'
import type { RedisClient } from './redis-channel.ts'
import type { Limit, ResolvedThrottle } from './throttle-options.ts'

/**
 * The key a client address is counted under: an IPv4 address as it is, an IPv6 address by its
 * /64 network. One subscriber usually holds a whole /64, so counting single IPv6 addresses would
 * give a guesser 2^64 fresh keys. Anything else (a proxy's label) is counted as it is.
 *
 * @example
 * addressKey('2001:db8:1:2:aaaa::1') // '2001:db8:1:2::/64'
 * addressKey('::ffff:203.0.113.7') // '203.0.113.7'
 */
export function addressKey(ip: string): string {
  const address = ip.replace(/%.*$/, '') // a zone id names the interface, not the client
  const mapped = /^::ffff:([\d.]+)$/i.exec(address)?.[1]
  if (mapped && isIPv4(mapped)) return mapped
  if (!isIPv6(address)) return ip
  const [head = '', tail] = address.split('::')
  const left = head ? head.split(':') : []
  const right = tail ? tail.split(':') : []
  // A trailing dotted IPv4 part fills two groups; only the first four groups are kept anyway.
  const width = (groups: string[]) => groups.reduce((n, g) => n + (g.includes('.') ? 2 : 1), 0)
  const zeros = Array<string>(8 - width(left) - width(right)).fill('0')
  const groups = tail === undefined ? left : [...left, ...zeros, ...right]
  const network = groups.slice(0, 4).map((group) => Number.parseInt(group, 16).toString(16))
  return `${network.join(':')}::/64`
}

/** Where the counters live in Redis unless a test says otherwise. */
export const THROTTLE_KEY_PREFIX = 'sessionward:throttle'
// A Redis that does not answer within this is counted around in memory, never waited for.
const REDIS_TIMEOUT = 1000

/** The limiter calls a counter makes (rate-limiter-flexible's limiters and wrappers all have them). */
type Limiter = Pick<RateLimiterAbstract, 'consume' | 'reward' | 'delete'>

/**
 * Failures per key (a client IP, an account) in a fixed window of `duration` seconds that
 * starts with the first one; the key is blocked once it holds `points`, until the window ends.
 */
export class FailureCounter {
  readonly #limiter: Limiter

  constructor(limiter: Limiter) {
    this.#limiter = limiter
  }

  /**
   * Counts one attempt of `key` before its outcome is known, so parallel attempts cannot all
   * pass before their failures are counted; returns the seconds to wait when over the limit, or 0.
   */
  async attempt(key: string): Promise<number> {
    try {
      await this.#limiter.consume(key, 1)
      return 0
    } catch (outcome) {
      // The limiter rejects with its result when the key is over the limit.
      if (outcome instanceof RateLimiterRes) return retryAfter(outcome)
      throw outcome
    }
  }

  /** Takes back one attempt of `key` (it succeeded). */
  async refund(key: string): Promise<void> {
    await this.#limiter.reward(key, 1)
  }

  /** Forgets `key`'s failures. */
  async reset(key: string): Promise<void> {
    await this.#limiter.delete(key)
  }
}

// Whole seconds, at least 1: a Retry-After of 0 would invite an immediate retry.
function retryAfter(counted: RateLimiterRes): number {
  return Math.max(1, Math.ceil(counted.msBeforeNext / 1000))
}

/**
 * The token-guess limit of one ward. A lookup of a token the process does not hold is counted
 * against the client's address before it runs, so guesses sent at once cannot all pass before
 * their failures are known, and the count is given back when the token was real. Requests from one
 * address with one token in flight together count once: they are one guess sharing one read, and a
 * user's burst of requests, when its cached session is due for a re-read, is not refused for its
 * own size.
 */
export class TokenGuessLimit {
  readonly #counter: FailureCounter
  /** The attempt counted for each address and token hash with a lookup in flight. */
  readonly #inFlight = new Map<string, Promise<number>>()

  constructor(counter: FailureCounter) {
    this.#counter = counter
  }

  /**
   * Runs `lookUp` for a request from `address` (an `addressKey`) that sent the token hashed to
   * `tokenHash` (null: no readable token), unless the address is over its limit. `lookUp` answers
   * whether the token was a guess. Returns the seconds to wait when refused (`lookUp` did not
   * run), else 0.
   *
   * @example
   * const seconds = await limit.guard('203.0.113.7', tokenHash, async () => isUnknown(await find(tokenHash)))
   */
  async guard(
    address: string,
    tokenHash: string | null,
    lookUp: () => Promise<boolean>,
  ): Promise<number> {
    const key = tokenHash === null ? null : `${address} ${tokenHash}`
    const counted = key === null ? undefined : this.#inFlight.get(key)
    if (counted) {
      const seconds = await counted
      if (seconds === 0) await lookUp()
      return seconds
    }
    const attempt = this.#counter.attempt(address)
    if (key !== null) this.#inFlight.set(key, attempt)
    try {
      const seconds = await attempt
      if (seconds > 0) return seconds
      const guessed = await lookUp()
      if (!guessed) await this.#counter.refund(address)
      return 0
    } finally {
      if (key !== null) this.#inFlight.delete(key)
    }
  }
}

/**
 * A counter for `limit`: in this process's memory, or in Redis when the ward has a client, so
 * every instance counts the same failures. While Redis cannot answer, each instance counts in
 * its own memory (the single-instance bound) instead of failing or holding every request.
 *
 * @example
 * const counter = failureCounter({ points: 30, duration: 60 }, redis, 'sessionward:throttle:token')
 */
export function failureCounter(
  limit: Limit,
  redis: RedisClient | null,
  keyPrefix: string,
): FailureCounter {
  const settings = { points: limit.points, duration: limit.duration, keyPrefix }
  const memory = new RateLimiterMemory(settings)
  if (!redis) return new FailureCounter(memory)
  const shared = new RateLimiterRedis({
    ...settings,
    storeClient: redis,
    // A disconnected client would queue the command and hold the request: use memory instead.
    rejectIfRedisNotReady: true,
    insuranceLimiter: memory,
  })
  // A connected Redis that stalls would hold it too: past the timeout, memory answers.
  const bounded = new RLWrapperTimeouts({ limiter: shared, timeoutMs: REDIS_TIMEOUT })
  return new FailureCounter(bounded)
}

/** The ward's counters, built from its `throttle` settings; null where a limiter is off. */
export interface Throttles {
  tokenGuesses: TokenGuessLimit | null
  loginAccounts: FailureCounter | null
  loginIps: FailureCounter | null
  /** Refused identity-provider tokens per client IP (the `tokenGuesses` limit, its own count). */
  idpTokens: FailureCounter | null
}

/**
 * Builds the counters the settings ask for, on Redis when `redis` is a client.
 *
 * @example
 * const throttles = createThrottles(resolved.throttle, null) // memory counters
 */
export function createThrottles(
  settings: ResolvedThrottle,
  redis: RedisClient | null,
  keyPrefix = THROTTLE_KEY_PREFIX,
): Throttles {
  const counter = (limit: Limit | null, name: string) =>
    limit ? failureCounter(limit, redis, `${keyPrefix}:${name}`) : null
  const tokenGuesses = counter(settings.tokenGuesses, 'token')
  return {
    tokenGuesses: tokenGuesses && new TokenGuessLimit(tokenGuesses),
    loginAccounts: counter(settings.logins.perAccount, 'account'),
    loginIps: counter(settings.logins.perIp, 'ip'),
    idpTokens: counter(settings.tokenGuesses, 'idp'),
  }
}
