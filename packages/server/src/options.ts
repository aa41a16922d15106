import type { MikroORM } from '@mikro-orm/core'
import type { Context } from 'hono'
import { type JwtOptions, type ResolvedJwtOptions, resolveJwtOptions } from './jwt.ts'
import type { SessionInfo } from './session.ts'

/** Why a session ended; the value of `end_reason`. */
export type EndReason =
  | 'logout'
  | 'idle'
  | 'absolute'
  | 'revoked'
  | 'evicted'
  | 'user_agent_changed'
  | 'admin'
  | 'refresh_reuse'

/** How strictly a session is bound to the user agent it logged in with. */
export type UserAgentBinding = 'strict' | 'browser' | 'off'

/** What happens when a login would exceed `maxSessions`. */
export type OnLimit = 'evict-oldest' | 'deny'

/** The settings `policy(userId, c)` may override per user. Times in seconds. */
export interface SessionPolicy {
  warnAfter: number
  expireAfter: number
  maxAge: number
  maxSessions: number
  onLimit: OnLimit
}

/** Audit hooks. A hook that throws is logged and never breaks the request. */
export interface WardHooks {
  onSessionStart?: (session: SessionInfo, c: Context) => void | Promise<void>
  onSessionEnd?: (session: SessionInfo, reason: EndReason) => void | Promise<void>
}

/** Cookie transport. `false` turns it off (header tokens only). */
export interface CookieOptions {
  /** Default `__Host-sessionward`. A `__Host-` name requires `secure`. */
  name?: string
  /** Default true. Browsers accept Secure cookies on http://localhost and 127.0.0.1. */
  secure?: boolean
}

/** Where the ward writes: one line per start-up fact, misconfiguration or failure. */
export type WardLogger = Pick<Console, 'info' | 'warn' | 'error'>

/** Everything `createWard` accepts. Times are in seconds. */
export interface WardOptions extends Partial<SessionPolicy> {
  database?: string | MikroORM
  policy?: (userId: string, c: Context) => Partial<SessionPolicy> | Promise<Partial<SessionPolicy>>
  /** Requests that must not count as activity: exact paths, `prefix*` paths, or a predicate. */
  passive?: string[] | ((c: Context) => boolean)
  userAgentBinding?: UserAgentBinding
  touchInterval?: number
  logLimit?: number | null
  hooks?: WardHooks
  cookie?: CookieOptions | false
  /** Origins allowed on state-changing cookie requests besides the request's own. */
  trustedOrigins?: string[]
  /** The client's address. Default: the socket address under @hono/node-server, else none. */
  clientIp?: (c: Context) => string | undefined
  /** How many sessions the process cache holds (default 10,000). */
  cacheSize?: number
  /** Seconds a cached session is trusted before its row is re-read (default 5). */
  cacheTtl?: number
  /** Seconds between background sweeps that end expired sessions (default 60; 0 turns it off). */
  sweepInterval?: number
  /** Where start-up facts (info), misconfiguration (warn) and failures (error) go. Default `console`. */
  logger?: WardLogger
  /** JWT access tokens bound to live sessions (`POST /session/token`); off when omitted. */
  jwt?: JwtOptions
}

/** Options after defaults and validation. */
export interface ResolvedOptions extends SessionPolicy {
  policy: WardOptions['policy']
  isPassive: (c: Context) => boolean
  userAgentBinding: UserAgentBinding
  touchInterval: number
  logLimit: number | null
  hooks: WardHooks
  cookie: Required<CookieOptions> | false
  trustedOrigins: string[]
  clientIp: (c: Context) => string | undefined
  cacheSize: number
  cacheTtl: number
  sweepInterval: number
  logger: WardLogger
  jwt: ResolvedJwtOptions | null
}

/** Thrown by `createWard` when an option is invalid; the message names the option. */
export class WardOptionsError extends Error {
  constructor(message: string) {
    super(`sessionward: ${message}`)
    this.name = 'WardOptionsError'
  }
}

/** DESIGN defaults: 14 min warning, 15 min idle (PCI DSS 8.2.8), 12 h absolute. */
export const DEFAULT_POLICY: SessionPolicy = {
  warnAfter: 840,
  expireAfter: 900,
  maxAge: 43_200,
  maxSessions: 0,
  onLimit: 'evict-oldest',
}

const ON_LIMIT: readonly OnLimit[] = ['evict-oldest', 'deny']
const BINDINGS: readonly UserAgentBinding[] = ['strict', 'browser', 'off']

function seconds(name: string, value: unknown, { min = 0 } = {}): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
    throw new WardOptionsError(
      `${name} must be a finite number of seconds >= ${min}, got ${JSON.stringify(value)}`,
    )
  }
  return value
}

function count(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new WardOptionsError(`${name} must be a whole number >= 0, got ${JSON.stringify(value)}`)
  }
  return value
}

function oneOf<T extends string>(name: string, value: unknown, allowed: readonly T[]): T {
  if (!allowed.includes(value as T)) {
    throw new WardOptionsError(
      `${name} must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${JSON.stringify(value)}`,
    )
  }
  return value as T
}

/**
 * Validates a (possibly partial, per-user) policy on top of a base one.
 *
 * @example
 * resolvePolicy({ expireAfter: 300, warnAfter: 240 }, DEFAULT_POLICY)
 */
export function resolvePolicy(
  overrides: Partial<SessionPolicy>,
  base: SessionPolicy,
  where = 'options',
): SessionPolicy {
  const merged = { ...base, ...definedOnly(overrides) }
  const policy: SessionPolicy = {
    warnAfter: seconds(`${where}.warnAfter`, merged.warnAfter),
    expireAfter: seconds(`${where}.expireAfter`, merged.expireAfter, { min: 1 }),
    maxAge: seconds(`${where}.maxAge`, merged.maxAge, { min: 1 }),
    maxSessions: count(`${where}.maxSessions`, merged.maxSessions),
    onLimit: oneOf(`${where}.onLimit`, merged.onLimit, ON_LIMIT),
  }
  if (policy.warnAfter >= policy.expireAfter) {
    throw new WardOptionsError(
      `${where}.warnAfter (${policy.warnAfter}) must be less than expireAfter (${policy.expireAfter})`,
    )
  }
  return policy
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>
}

function passiveMatcher(passive: WardOptions['passive']): (c: Context) => boolean {
  if (passive === undefined) return () => false
  if (typeof passive === 'function') return passive
  if (
    !Array.isArray(passive) ||
    !passive.every((p) => typeof p === 'string' && p.startsWith('/'))
  ) {
    throw new WardOptionsError(
      'passive must be a list of paths starting with "/" (a trailing * matches a prefix) or a function (c) => boolean',
    )
  }
  const exact = new Set(passive.filter((p) => !p.endsWith('*')))
  const prefixes = passive.filter((p) => p.endsWith('*')).map((p) => p.slice(0, -1))
  return (c) => exact.has(c.req.path) || prefixes.some((prefix) => c.req.path.startsWith(prefix))
}

function socketAddress(c: Context): string | undefined {
  // @hono/node-server passes the Node request as `env.incoming`.
  const incoming = (c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)
    ?.incoming
  return incoming?.socket?.remoteAddress
}

/**
 * Applies defaults to `createWard` options and validates them, so a mistake fails at start-up
 * with a message that names the option rather than at the first request.
 *
 * @example
 * resolveOptions({ warnAfter: 900, expireAfter: 900 }) // throws: warnAfter (900) must be less than expireAfter (900)
 */
export function resolveOptions(options: WardOptions = {}): ResolvedOptions {
  if (typeof options !== 'object' || options === null) {
    throw new WardOptionsError('options must be an object')
  }
  const policy = resolvePolicy(options, DEFAULT_POLICY)
  if (options.policy !== undefined && typeof options.policy !== 'function') {
    throw new WardOptionsError('policy must be a function (userId, c) => overrides')
  }
  const touchInterval = seconds('touchInterval', options.touchInterval ?? 60)
  if (touchInterval >= policy.expireAfter) {
    throw new WardOptionsError(
      `touchInterval (${touchInterval}) must be less than expireAfter (${policy.expireAfter}), or activity could be lost before an idle check`,
    )
  }
  const logLimit = options.logLimit === null ? null : count('logLimit', options.logLimit ?? 20)
  let cookie: ResolvedOptions['cookie'] = false
  if (options.cookie !== false) {
    const name = options.cookie?.name ?? '__Host-sessionward'
    const secure = options.cookie?.secure ?? true
    if (typeof name !== 'string' || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) {
      throw new WardOptionsError(
        `cookie.name must be a valid cookie name, got ${JSON.stringify(name)}`,
      )
    }
    if (name.startsWith('__Host-') && secure !== true) {
      throw new WardOptionsError('cookie.secure must be true for a __Host- cookie name')
    }
    cookie = { name, secure }
  }
  const trustedOrigins = options.trustedOrigins ?? []
  if (!Array.isArray(trustedOrigins) || !trustedOrigins.every((o) => URL.canParse(o))) {
    throw new WardOptionsError(
      'trustedOrigins must be a list of origins like "https://app.example.com"',
    )
  }
  if (options.clientIp !== undefined && typeof options.clientIp !== 'function') {
    throw new WardOptionsError('clientIp must be a function (c) => string | undefined')
  }
  for (const [name, hook] of Object.entries(options.hooks ?? {})) {
    if (hook !== undefined && typeof hook !== 'function') {
      throw new WardOptionsError(`hooks.${name} must be a function`)
    }
  }
  return {
    ...policy,
    policy: options.policy,
    isPassive: passiveMatcher(options.passive),
    userAgentBinding: oneOf('userAgentBinding', options.userAgentBinding ?? 'browser', BINDINGS),
    touchInterval,
    logLimit,
    hooks: options.hooks ?? {},
    cookie,
    trustedOrigins: trustedOrigins.map((o) => new URL(o).origin),
    clientIp: options.clientIp ?? socketAddress,
    cacheSize: count('cacheSize', options.cacheSize ?? 10_000) || 1,
    cacheTtl: seconds('cacheTtl', options.cacheTtl ?? 5),
    sweepInterval: seconds('sweepInterval', options.sweepInterval ?? 60),
    logger: options.logger ?? console,
    jwt: options.jwt === undefined ? null : resolveJwtOptions(options.jwt),
  }
}
