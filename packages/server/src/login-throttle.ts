import { createHash } from 'node:crypto'
import type { Context } from 'hono'
import { problemException } from './errors.ts'
import { tooManySignIns } from './problems.ts'
import { addressKey, type Throttles } from './throttle.ts'

/** Outside Hono, what the login throttle needs of a request: the address it came from. */
export interface RequestAddress {
  ip?: string
}

/**
 * The app's login route throttle (`ward.loginThrottle`): failed passwords per account and per
 * client IP. Each method takes the request's Hono `Context`, or outside Hono `{ ip }`.
 *
 * @example
 * app.post('/login', async (c) => {
 *   const { username, password } = await c.req.json()
 *   await ward.loginThrottle.check(c, username) // 429 when over a limit
 *   const userId = await checkPassword(username, password)
 *   if (!userId) return c.json({ error: 'invalid_credentials', message: '…' }, 401)
 *   await ward.loginThrottle.succeeded(c, username)
 *   return c.json(await ward.createSession(c, userId))
 * })
 */
export interface LoginThrottle {
  /**
   * Call before checking the password. Counts the attempt against the account and the client's
   * address, and throws an HTTPException answering 429 `too_many_requests` (with `Retry-After`)
   * when either is over its limit. Counting up front means parallel guesses cannot all pass
   * before their failures are known: an attempt counts as failed unless `succeeded` follows.
   */
  check(from: Context | RequestAddress, username: string): Promise<void>
  /** Call after a correct password: the attempt does not count, and the account's failures are forgotten. */
  succeeded(from: Context | RequestAddress, username: string): Promise<void>
}

/**
 * The account's key: the name as users type it in any case or Unicode form (so `Alice` and
 * `alice` share one count), hashed so Redis holds no user names and every key has one length.
 */
function accountKey(username: unknown, method: string): string {
  if (typeof username !== 'string') {
    throw new TypeError(`sessionward: loginThrottle.${method} needs the username as a string`)
  }
  const name = username.normalize('NFKC').trim().toLowerCase()
  return createHash('sha256').update(name).digest('base64url')
}

/**
 * Builds `ward.loginThrottle` on the ward's counters. Without a client IP (no socket, no
 * `clientIp` answer) only the account is counted: one shared key would lock everyone out.
 */
export function createLoginThrottle(
  throttles: Pick<Throttles, 'loginAccounts' | 'loginIps'>,
  clientIp: (c: Context) => string | undefined,
): LoginThrottle {
  const { loginAccounts, loginIps } = throttles
  const ipOf = (from: Context | RequestAddress): string | undefined => {
    const ip = 'req' in from ? clientIp(from) : from.ip
    return ip === undefined ? undefined : addressKey(ip)
  }
  return {
    check: async (from, username) => {
      const account = accountKey(username, 'check')
      const ip = ipOf(from)
      const waits = await Promise.all([
        loginAccounts ? loginAccounts.attempt(account) : 0,
        loginIps && ip !== undefined ? loginIps.attempt(ip) : 0,
      ])
      const seconds = Math.max(...waits)
      if (seconds > 0) throw problemException(tooManySignIns(seconds))
    },
    succeeded: async (from, username) => {
      const account = accountKey(username, 'succeeded')
      const ip = ipOf(from)
      await Promise.all([
        // A correct password ends the run of failures on the account.
        loginAccounts?.reset(account),
        // The address keeps its other failures: one good account must not clear a spraying run.
        loginIps && ip !== undefined ? loginIps.refund(ip) : undefined,
      ])
    },
  }
}
