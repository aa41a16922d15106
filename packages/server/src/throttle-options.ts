import { assertKnownKeys, describe, fail, isRecord } from './option-checks.ts'

/** At most `points` failures per `duration` seconds, counted from the first failure. */
export interface Limit {
  points: number
  duration: number
}

/** The `throttle` option of `createWard`; `false` turns every limiter off. */
export interface ThrottleOptions {
  /** Failed token lookups per client IP (unknown or unreadable tokens); `false` turns it off. */
  tokenGuesses?: Partial<Limit> | false
  /** Sign-in attempts through `ward.loginThrottle`; `false` turns both limits off. */
  logins?: { perAccount?: Partial<Limit> | false; perIp?: Partial<Limit> | false } | false
}

/** The limits in force; null = that limiter is off. */
export interface ResolvedThrottle {
  tokenGuesses: Limit | null
  logins: { perAccount: Limit | null; perIp: Limit | null }
}

/**
 * The defaults, from OWASP guidance (reasons in the server README, "Throttling"):
 * - tokenGuesses 30 per minute per IP. The Session Management Cheat Sheet asks apps to detect
 *   many different session ids from one address and block it; a browser sends an unknown token
 *   once (the ward drops the cookie), so 30 a minute is never a user, and it caps the database
 *   reads a guesser causes.
 * - logins.perAccount 10 per 15 minutes. The Authentication Cheat Sheet puts the counter on the
 *   account (so many addresses cannot share out the guesses), with a threshold, an observation
 *   window and a lockout duration, and warns that lockout must not become a denial of service: a
 *   short window that ends by itself, and 40 an hour at most, well below the 100 failed attempts
 *   an hour ASVS 4.0.3 2.2.1 allowed.
 * - logins.perIp 100 per hour. Slows credential stuffing and password spraying (many accounts,
 *   one address) without locking out an office behind one NAT address.
 */
export const DEFAULT_THROTTLE = {
  tokenGuesses: { points: 30, duration: 60 },
  logins: { perAccount: { points: 10, duration: 900 }, perIp: { points: 100, duration: 3600 } },
} as const satisfies ResolvedThrottle

// Memory windows are timers, which stop at 2^31 - 1 ms; Redis expiries are whole seconds.
const MAX_DURATION = Math.floor((2 ** 31 - 1) / 1000)
const MAX_POINTS = 1_000_000

function wholeNumber(value: unknown, name: string, max: number, unit: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) {
    fail(`${name} must be a whole number of ${unit} from 1 to ${max}, got ${describe(value)}`)
  }
  return value
}

function resolveLimit(value: unknown, base: Limit, name: string): Limit | null {
  if (value === false) return null
  if (value === undefined) return base
  if (!isRecord(value)) {
    fail(`${name} must be false or an object { points, duration }, got ${describe(value)}`)
  }
  assertKnownKeys(value, ['points', 'duration'], name)
  return {
    points:
      value.points === undefined
        ? base.points
        : wholeNumber(value.points, `${name}.points`, MAX_POINTS, 'failures'),
    duration:
      value.duration === undefined
        ? base.duration
        : wholeNumber(value.duration, `${name}.duration`, MAX_DURATION, 'seconds'),
  }
}

/**
 * Validates the `throttle` option and fills in the defaults; a partial limit keeps the default
 * of the half it leaves out.
 *
 * @example
 * resolveThrottle({ logins: { perAccount: { points: 5 } } }).logins.perAccount // { points: 5, duration: 900 }
 */
export function resolveThrottle(value: unknown): ResolvedThrottle {
  const off = { tokenGuesses: null, logins: { perAccount: null, perIp: null } }
  if (value === false) return off
  if (value === undefined) return resolveThrottle({})
  if (!isRecord(value)) {
    fail(`throttle must be false or an object { tokenGuesses, logins }, got ${describe(value)}`)
  }
  assertKnownKeys(value, ['tokenGuesses', 'logins'], 'throttle')
  const defaults = DEFAULT_THROTTLE
  const tokenGuesses = resolveLimit(
    value.tokenGuesses,
    defaults.tokenGuesses,
    'throttle.tokenGuesses',
  )
  const { logins } = value
  if (logins === false) return { tokenGuesses, logins: off.logins }
  if (logins !== undefined && !isRecord(logins)) {
    fail(
      `throttle.logins must be false or an object { perAccount, perIp }, got ${describe(logins)}`,
    )
  }
  if (logins) assertKnownKeys(logins, ['perAccount', 'perIp'], 'throttle.logins')
  return {
    tokenGuesses,
    logins: {
      perAccount: resolveLimit(
        logins?.perAccount,
        defaults.logins.perAccount,
        'throttle.logins.perAccount',
      ),
      perIp: resolveLimit(logins?.perIp, defaults.logins.perIp, 'throttle.logins.perIp'),
    },
  }
}
