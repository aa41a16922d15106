import type { MikroORM } from '@mikro-orm/core'
import type { Context } from 'hono'
import type { Cluster, Redis } from 'ioredis'
import {
  type IdentityProviderOptions,
  type ResolvedIdentityProvider,
  resolveIdentityProviders,
} from './idp-options.ts'
import { type JwtOptions, type ResolvedJwtOptions, resolveJwtOptions } from './jwt-options.ts'
import type { KnownDevice } from './known-device.ts'
import { assertKnownKeys, assertOrigin, describe, fail, isRecord } from './option-checks.ts'
import type { SessionInfo } from './session.ts'
import { type ResolvedThrottle, resolveThrottle, type ThrottleOptions } from './throttle-options.ts'
import type { EndReason, OnLimit, SessionPolicy, UserAgentBinding } from './vocabulary.ts'

/** Audit hooks. A hook that throws is logged and never breaks the request. */
export interface WardHooks {
  onSessionStart?: (session: SessionInfo, c: Context) => void | Promise<void>
  onSessionEnd?: (session: SessionInfo, reason: EndReason) => void | Promise<void>
  /**
   * A sign-in from a device the user never used (`newDevice` on): for the app's own e-mail or
   * SMS, with the single-use link that ends that session (`reportUrl`, shown once).
   */
  onNewDevice?: (event: NewDeviceEvent) => void | Promise<void>
  /** A new-device sign-in was reported ("not me"): its session has ended `reported`. */
  onReport?: (event: ReportEvent) => void | Promise<void>
}

/** What `hooks.onNewDevice` is given. */
export interface NewDeviceEvent {
  /** The session that signed in from the new device. */
  session: SessionInfo
  device: KnownDevice
  /** `newDevice.reportUrl` with the link's token: GET shows a confirmation, POST ends it. */
  reportUrl: string
}

/** What `hooks.onReport` is given. */
export interface ReportEvent {
  userId: string
  sessionId: string
  /**
   * The reported session, now ended (with the reason it ended with, `reported` unless it had
   * ended before); null when its row was already trimmed from the log (`logLimit`).
   */
  session: SessionInfo | null
  /** How many other sessions of the user the reporter also ended ("and every other session"). */
  endedOthers: number
}

/** Known devices and new-device alerts (README "New-device sign-ins"). */
export interface NewDeviceOptions {
  /**
   * The absolute URL the report route answers at, where the routes are mounted:
   * `https://app.example/session/report`. Mail links need an absolute URL and only the app
   * knows its mount and public origin.
   */
  reportUrl: string
  /** Seconds a report link stays usable (default 3600). */
  reportTtl?: number
  /**
   * Holds a new device's session until approved: only its own ping, events and logout answer
   * (others 403 `session_held`) until another live session of the user approves it ("Yes, it
   * was me" in the notice); unapproved after `holdFor`, it ends `reported`. Default false.
   */
  hold?: boolean
  /** Seconds a held session waits for approval (default 900). */
  holdFor?: number
}

/** Cookie transport. `false` turns it off (header tokens only). */
export interface CookieOptions {
  /** Default `__Host-sessionward`. A `__Host-` name requires `secure`. */
  name?: string
  /** Default true. Browsers accept Secure cookies on http://localhost and 127.0.0.1. */
  secure?: boolean
}

/**
 * Where the ward writes: one line per start-up fact, misconfiguration or failure, and (when it
 * has `debug`) what clients did that is no fault of the server, such as an aborted upload.
 */
/**
 * The request `policy(userId, c)` is given: the sign-in's, or the first of the requests that
 * load a session into an instance's cache (docs/decisions.md, "What a policy may depend on").
 */
export type PolicyRequest = Context

export type WardLogger = Pick<Console, 'info' | 'warn' | 'error'> & { debug?: Console['debug'] }

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
  /**
   * The app's public origin(s), as the browser's address bar shows them (`https://app.example`):
   * the origins allowed on state-changing cookie requests. Set it behind a TLS-terminating proxy,
   * where Node sees `http://`. Default: the request URL's own origin (as Hono's `csrf`).
   */
  origin?: string | string[]
  /** Origins allowed on state-changing cookie requests besides the app's own (`origin`). */
  trustedOrigins?: string[]
  /** The client's address. Default: the socket address under @hono/node-server, else none. */
  clientIp?: (c: Context) => string | undefined
  /** How many sessions the process cache holds (default 10,000). */
  cacheSize?: number
  /** Seconds a cached session is trusted before its row is re-read (default 5). */
  cacheTtl?: number
  /** Seconds between background sweeps that end expired sessions (default 60; 0 turns it off). */
  sweepInterval?: number
  /**
   * Seconds any one database call (or login transaction) may take before the request answers
   * 503 `store_unavailable` (default 5).
   */
  storeTimeout?: number
  /**
   * Where start-up facts (info), misconfiguration (warn) and failures (error) go, and client
   * aborts (debug, when the logger has it; else they are not logged). Default `console`.
   */
  logger?: WardLogger
  /** JWT access tokens bound to live sessions (`POST /session/token`); off when omitted. */
  jwt?: JwtOptions
  /**
   * Limits on guessing: unknown tokens per client IP, failed sign-ins per account and per IP
   * (`ward.loginThrottle`). On by default; `false` turns all off.
   */
  throttle?: ThrottleOptions | false
  /**
   * Many instances: an ioredis client or a `redis://` URL. Every end reaches every instance (and
   * its `/session/events` streams) at once, and idle decisions count activity seen anywhere.
   * Off when omitted: ends reach other instances within `cacheTtl`.
   */
  redis?: Redis | Cluster | string
  /**
   * Many instances without Redis: `'postgres'` shares ends and activity through PostgreSQL's
   * LISTEN/NOTIFY on the ward's own database (one listening connection per instance, outside
   * the pool). Needs a PostgreSQL server reached directly or through a session-mode pool; not
   * with `redis`, nor on embedded PGlite.
   */
  bus?: 'postgres'
  /**
   * Identity providers whose OpenID Connect back-channel logouts (`POST /backchannel-logout`)
   * and Shared Signals events (`POST /ssf`) end the sessions linked to them with
   * `createSession(c, userId, { idp })`.
   */
  identityProviders?: IdentityProviderOptions[]
  /**
   * Known devices: a long-lived device cookie (or the `deviceId` a header-token app passes to
   * `createSession`), a list of each user's devices, and on a sign-in from a new one the
   * `onNewDevice` hook, a `new-device` event on the user's other sessions' streams and a
   * single-use report link. Off when omitted.
   */
  newDevice?: NewDeviceOptions
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
  /** The app's public origins; null: the request URL's own origin. */
  origin: readonly string[] | null
  trustedOrigins: string[]
  clientIp: (c: Context) => string | undefined
  cacheSize: number
  cacheTtl: number
  sweepInterval: number
  storeTimeout: number
  logger: WardLogger
  jwt: ResolvedJwtOptions | null
  throttle: ResolvedThrottle
  redis: Redis | Cluster | string | null
  bus: 'postgres' | null
  identityProviders: ResolvedIdentityProvider[]
  newDevice: Required<NewDeviceOptions> | null
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
const LOGGER_METHODS = ['info', 'warn', 'error'] as const
const COOKIE_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/
// Timers (setTimeout) and PostgreSQL's statement_timeout both stop at 2^31 - 1 ms.
const MAX_STORE_TIMEOUT = Math.floor((2 ** 31 - 1) / 1000)
/** The most seconds between two activity writes of one session, unless `touchInterval` says. */
const DEFAULT_TOUCH_INTERVAL = 60

/** Checks one present (not undefined) option value; `name` is its path, e.g. `cookie.secure`. */
type Check = (value: unknown, name: string) => void

const pathOf = (where: string, key: string): string => (where ? `${where}.${key}` : key)

const seconds =
  ({ min = 0 } = {}): Check =>
  (value, name) => {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
      fail(`${name} must be a finite number of seconds >= ${min}, got ${describe(value)}`)
    }
  }

const isWholeNumber = (value: unknown): boolean =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= 0

const wholeNumber: Check = (value, name) => {
  if (!isWholeNumber(value)) fail(`${name} must be a whole number >= 0, got ${describe(value)}`)
}

const oneOf =
  (allowed: readonly string[]): Check =>
  (value, name) => {
    if (!allowed.includes(value as string)) {
      fail(
        `${name} must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${describe(value)}`,
      )
    }
  }

const boolean: Check = (value, name) => {
  if (typeof value !== 'boolean') fail(`${name} must be true or false, got ${describe(value)}`)
}

const func =
  (signature: string): Check =>
  (value, name) => {
    if (typeof value !== 'function') {
      fail(`${name} must be a function ${signature}, got ${describe(value)}`)
    }
  }

/** An object whose keys are all in `checks`, each value passing its check. */
const fields =
  (checks: Record<string, Check>): Check =>
  (value, name) => {
    if (!isRecord(value)) fail(`${name} must be an object, got ${describe(value)}`)
    checkFields(value, checks, name)
  }

// Validated where they are used: database by openDatabase, jwt by resolveJwtOptions, throttle by
// resolveThrottle, identityProviders by resolveIdentityProviders.
const checkedElsewhere: Check = () => {}

const POLICY_CHECKS = {
  warnAfter: seconds(),
  expireAfter: seconds({ min: 1 }),
  maxAge: seconds({ min: 1 }),
  maxSessions: wholeNumber,
  onLimit: oneOf(ON_LIMIT),
} satisfies Record<keyof SessionPolicy, Check>

const POLICY_KEYS = Object.keys(POLICY_CHECKS) as (keyof SessionPolicy)[]

const COOKIE_CHECKS = {
  name: (value, name) => {
    if (typeof value !== 'string' || !COOKIE_NAME.test(value)) {
      fail(`${name} must be a valid cookie name, got ${describe(value)}`)
    }
  },
  secure: boolean,
} satisfies Record<keyof CookieOptions, Check>

/** Every `createWard` option and its check: the one list of known option names. */
const OPTION_CHECKS = {
  database: checkedElsewhere,
  ...POLICY_CHECKS,
  policy: func('(userId, c) => overrides'),
  passive: (value, name) => {
    if (typeof value === 'function') return
    if (!Array.isArray(value) || !value.every((p) => typeof p === 'string' && p.startsWith('/'))) {
      fail(
        `${name} must be a list of paths starting with "/" (a trailing * matches a prefix) or a function (c) => boolean, got ${describe(value)}`,
      )
    }
  },
  userAgentBinding: oneOf(BINDINGS),
  touchInterval: seconds(),
  logLimit: (value, name) => {
    if (value !== null && !isWholeNumber(value)) {
      fail(`${name} must be a whole number >= 0 or null, got ${describe(value)}`)
    }
  },
  hooks: fields({
    onSessionStart: func('(session, c) => void'),
    onSessionEnd: func('(session, reason) => void'),
    onNewDevice: func('({ session, device, reportUrl }) => void'),
    onReport: func('({ session, endedOthers }) => void'),
  } satisfies Record<keyof WardHooks, Check>),
  newDevice: fields({
    reportUrl: (value, name) => {
      if (typeof value !== 'string' || !/^https?:\/\//.test(value) || !URL.canParse(value)) {
        fail(
          `${name} must be the absolute URL of the report route ("https://app.example/session/report"), got ${describe(value)}`,
        )
      }
    },
    reportTtl: seconds({ min: 1 }),
    hold: (value, name) => {
      if (typeof value !== 'boolean') fail(`${name} must be true or false, got ${describe(value)}`)
    },
    holdFor: seconds({ min: 1 }),
  } satisfies Record<keyof NewDeviceOptions, Check>),
  cookie: (value, name) => {
    if (value === false) return
    if (!isRecord(value)) {
      fail(`${name} must be false or an object { name, secure }, got ${describe(value)}`)
    }
    checkFields(value, COOKIE_CHECKS, name)
  },
  origin: (value, name) => {
    if (typeof value === 'string') return assertOrigin(value, name)
    if (!Array.isArray(value) || value.length === 0) {
      fail(
        `${name} must be the app's public origin ("https://app.example") or a non-empty list of them, got ${describe(value)}`,
      )
    }
    value.forEach((entry, i) => {
      assertOrigin(entry, `${name}[${i}]`)
    })
  },
  trustedOrigins: (value, name) => {
    if (!Array.isArray(value) || !value.every((o) => typeof o === 'string' && URL.canParse(o))) {
      fail(
        `${name} must be a list of origins like "https://app.example.com", got ${describe(value)}`,
      )
    }
  },
  clientIp: func('(c) => string | undefined'),
  cacheSize: wholeNumber,
  cacheTtl: seconds(),
  sweepInterval: seconds(),
  // Always bounded: 0 would mean "wait forever", the stall this option exists to end.
  storeTimeout: (value, name) => {
    if (typeof value !== 'number' || !(value > 0 && value <= MAX_STORE_TIMEOUT)) {
      fail(
        `${name} must be a number of seconds > 0 and at most ${MAX_STORE_TIMEOUT}, got ${describe(value)}`,
      )
    }
  },
  logger: (value, name) => {
    if (!isRecord(value)) {
      fail(`${name} must be an object with info, warn and error functions, got ${describe(value)}`)
    }
    // Only the methods the ward calls: a pino or winston logger has many more keys.
    if (value.debug !== undefined && typeof value.debug !== 'function') {
      fail(
        `${name}.debug must be a function when given (it is optional), got ${describe(value.debug)}`,
      )
    }
    for (const method of LOGGER_METHODS) {
      const fn = value[method]
      if (typeof fn !== 'function') {
        fail(
          `${name}.${method} must be a function (logger needs info, warn and error, like console), got ${describe(fn)}`,
        )
      }
    }
  },
  jwt: checkedElsewhere,
  throttle: checkedElsewhere,
  identityProviders: checkedElsewhere,
  redis: (value, name) => {
    if (typeof value === 'string' ? /^rediss?:\/\/./.test(value) : isRedisClient(value)) return
    fail(
      `${name} must be an ioredis client (new Redis(...)) or a URL like "redis://127.0.0.1:6379", got ${describe(value)}`,
    )
  },
  bus: (value, name) => {
    if (value === 'postgres') return
    fail(
      `${name} must be 'postgres' (PostgreSQL's LISTEN/NOTIFY; for Redis give the redis option instead), got ${describe(value)}`,
    )
  },
} satisfies Record<keyof WardOptions, Check>

// Duck-typed: the app's ioredis may be another copy than ours.
function isRedisClient(value: unknown): boolean {
  return (
    isRecord(value) &&
    ['duplicate', 'publish', 'zadd', 'zmscore'].every(
      (method) => typeof value[method] === 'function',
    )
  )
}

/** Refuses keys not in `checks` (suggesting a close name), then checks each present value. */
function checkFields(record: object, checks: Record<string, Check>, where: string): void {
  assertKnownKeys(record, Object.keys(checks), where)
  for (const [key, check] of Object.entries(checks)) {
    const value = (record as Record<string, unknown>)[key]
    if (value !== undefined) check(value, pathOf(where, key))
  }
}

/**
 * Validates a (possibly partial, per-user) policy on top of a base one; `where` names its
 * source in errors.
 *
 * @example
 * resolvePolicy({ expireAfter: 300, warnAfter: 240 }, DEFAULT_POLICY)
 */
export function resolvePolicy(
  overrides: Partial<SessionPolicy>,
  base: SessionPolicy,
  where = '',
): SessionPolicy {
  checkFields(overrides, POLICY_CHECKS, where)
  return withOverrides(base, overrides, where)
}

// Takes checked overrides over the base and checks the one rule between two settings.
function withOverrides(
  base: SessionPolicy,
  overrides: Partial<SessionPolicy>,
  where: string,
): SessionPolicy {
  const policy = Object.fromEntries(
    POLICY_KEYS.map((key) => [key, overrides[key] ?? base[key]]),
  ) as unknown as SessionPolicy
  if (policy.warnAfter >= policy.expireAfter) {
    fail(
      `${pathOf(where, 'warnAfter')} (${policy.warnAfter}) must be less than expireAfter (${policy.expireAfter})`,
    )
  }
  return policy
}

/**
 * Seconds between two activity writes of a session: `touchInterval`, but at most a quarter of
 * the session's own `expireAfter`, so a policy that shortens the idle limit never outruns the
 * writes an idle check on another instance relies on. Also the `touchInterval` default.
 *
 * @example
 * activityWriteInterval(60, 20) // 5
 */
export function activityWriteInterval(touchInterval: number, expireAfter: number): number {
  return Math.min(touchInterval, expireAfter / 4)
}

function passiveMatcher(passive: WardOptions['passive']): (c: Context) => boolean {
  if (passive === undefined) return () => false
  if (typeof passive === 'function') return passive
  const exact = new Set(passive.filter((p) => !p.endsWith('*')))
  const prefixes = passive.filter((p) => p.endsWith('*')).map((p) => p.slice(0, -1))
  return (c) => exact.has(c.req.path) || prefixes.some((prefix) => c.req.path.startsWith(prefix))
}

/** What @hono/node-server passes as `c.env`: the Node request (the parts the ward reads). */
export interface NodeBindings {
  incoming?: { socket?: { remoteAddress?: string }; rawHeaders?: string[] }
}

function socketAddress(c: Context): string | undefined {
  return (c.env as NodeBindings | undefined)?.incoming?.socket?.remoteAddress
}

/**
 * Applies defaults to `createWard` options and validates them, so a mistake fails at start-up
 * with a message that names the option rather than at the first request.
 *
 * @example
 * resolveOptions({ warnAfter: 900, expireAfter: 900 }) // throws: warnAfter (900) must be less than expireAfter (900)
 */
export function resolveOptions(options: WardOptions = {}): ResolvedOptions {
  checkFields(options, OPTION_CHECKS, '')
  if (options.bus !== undefined && options.redis !== undefined) {
    fail(
      "give either redis or bus: 'postgres', not both: one bus carries the ends between instances",
    )
  }
  const policy = withOverrides(DEFAULT_POLICY, options, '')
  const touchInterval =
    options.touchInterval ?? activityWriteInterval(DEFAULT_TOUCH_INTERVAL, policy.expireAfter)
  if (touchInterval >= policy.expireAfter) {
    fail(
      `touchInterval (${touchInterval}) must be less than expireAfter (${policy.expireAfter}), or activity could be lost before an idle check`,
    )
  }
  let cookie: ResolvedOptions['cookie'] = false
  if (options.cookie !== false) {
    const name = options.cookie?.name ?? '__Host-sessionward'
    const secure = options.cookie?.secure ?? true
    if (name.startsWith('__Host-') && !secure) {
      fail('cookie.secure must be true for a __Host- cookie name')
    }
    cookie = { name, secure }
  }
  return {
    ...policy,
    policy: options.policy,
    isPassive: passiveMatcher(options.passive),
    userAgentBinding: options.userAgentBinding ?? 'browser',
    touchInterval,
    logLimit: options.logLimit === undefined ? 20 : options.logLimit,
    hooks: options.hooks ?? {},
    cookie,
    origin: options.origin === undefined ? null : [options.origin].flat(),
    trustedOrigins: (options.trustedOrigins ?? []).map((o) => new URL(o).origin),
    clientIp: options.clientIp ?? socketAddress,
    // lru-cache needs room for at least one entry.
    cacheSize: Math.max(1, options.cacheSize ?? 10_000),
    cacheTtl: options.cacheTtl ?? 5,
    sweepInterval: options.sweepInterval ?? 60,
    storeTimeout: options.storeTimeout ?? 5,
    logger: options.logger ?? console,
    jwt: options.jwt === undefined ? null : resolveJwtOptions(options.jwt),
    throttle: resolveThrottle(options.throttle),
    redis: options.redis ?? null,
    bus: options.bus ?? null,
    identityProviders: resolveIdentityProviders(options.identityProviders),
    newDevice: options.newDevice ? resolveNewDevice(options.newDevice) : null,
  }
}

function resolveNewDevice(options: NewDeviceOptions): Required<NewDeviceOptions> {
  if (options.reportUrl === undefined) {
    fail('newDevice.reportUrl is required: the absolute URL of the report route')
  }
  return {
    reportUrl: options.reportUrl,
    reportTtl: options.reportTtl ?? 3600,
    hold: options.hold ?? false,
    holdFor: options.holdFor ?? 900,
  }
}
