import type { MikroORM } from '@mikro-orm/core'
import type { Context, Hono, MiddlewareHandler } from 'hono'
import { type AdminRoutesOptions, createAdminRoutes } from './admin/routes.ts'
import { type ClientScript, ClientScriptFile } from './client-script.ts'
import { checkUserId, WardCore } from './core.ts'
import { migrate, openDatabase, storeTarget } from './database.ts'
import { callHook } from './ending.ts'
import { atEdge, problemException, WardOptionsError } from './errors.ts'
import { type CreateSessionOptions, idpLink } from './idp-options.ts'
import { AccessTokens } from './jwt.ts'
import type { KnownDevice } from './known-device.ts'
import { createLoginThrottle, type LoginThrottle } from './login-throttle.ts'
import { createMiddleware, createRequireSession, type WardEnv } from './middleware.ts'
import { type ResolvedOptions, resolveOptions, type WardOptions } from './options.ts'
import {
  type AuthenticateOptions,
  type AuthenticateOutcome,
  createAuthenticate,
  createSignIn,
  type SignInFacts,
  type SignInOutcome,
} from './outside-hono.ts'
import {
  DEFAULT_PAGE,
  decodeCursor,
  encodeCursor,
  isSessionId,
  MAX_PAGE,
  type PageRequest,
} from './paging.ts'
import { LOGIN_ORIGIN_REJECTED } from './problems.ts'
import { createRoutes } from './routes.ts'
import { type CreatedSession, type SessionInfo, toSessionInfo } from './session.ts'
import { describeStoreError } from './store.ts'
import { DEVICE_PREFIX, generateSecret } from './tokens.ts'
import {
  loginOriginAllowed,
  readDeviceCookie,
  setDeviceCookie,
  setSessionCookie,
  userAgentOf,
} from './transport.ts'

/** A configured sessionward instance. */
export interface Ward {
  /**
   * Reads a token if present and sets `c.var.session` (null without a live session). Needed
   * only where routes without `requireSession()` want to know the session.
   */
  middleware(): MiddlewareHandler<WardEnv>
  /** Answers 401 JSON unless the request has a live session; reads the token itself if needed. */
  requireSession(): MiddlewareHandler<WardEnv>
  /**
   * The user's routes and the browser script (`/sessionward.js`): mount with
   * `app.route('/session', ward.routes())`.
   */
  routes(): Hono<WardEnv>
  /**
   * The versioned, immutable script URL (relative to the routes' mount) and its SRI value, for
   * `<script src="/session/${path}" integrity="${integrity}">`. Throws when the client bundle
   * is not built (a source checkout: `npm run build -w @sessionward/client`).
   */
  clientScript(): ClientScript
  /**
   * The admin view (JSON API and pages): mount with
   * `app.route('/admin/sessions', ward.adminRoutes({ authorize: (c) => isAdmin(c) }))`.
   */
  adminRoutes(options: AdminRoutesOptions): Hono<WardEnv>
  /**
   * Starts a session in the app's login route; sets the cookie when cookies are on. With cookies
   * on, a cross-origin POST (login CSRF) throws an HTTPException answering 403 `origin_rejected`.
   * `{ idp: { issuer, sub, sid } }` (from the identity provider's ID token) links the session to
   * the provider's, so its back-channel logouts and Shared Signals events end it.
   * With `newDevice` on, the device is recorded (and a new one alerted): the device cookie's,
   * or the `deviceId` a header-token app passes.
   */
  createSession(c: Context, userId: string, options?: CreateSessionOptions): Promise<CreatedSession>
  /**
   * Outside Hono: the decision `requireSession()` takes for `request` (token from Authorization
   * or the cookie, Origin check, expiry, user-agent binding, JWT), activity recorded unless
   * `passive`. `ip` is the socket's address. A refusal comes with a ready JSON `response`.
   *
   * @example
   * const outcome = await ward.authenticate(request, { ip: socket.remoteAddress })
   * if ('problem' in outcome) return outcome.response
   * outcome.session.userId
   */
  authenticate(request: Request, options?: AuthenticateOptions): Promise<AuthenticateOutcome>
  /**
   * Outside Hono: `createSession` for `request`, with the headers to send (the cookie's
   * `Set-Cookie`); a refused sign-in (`origin_rejected`, `session_limit`) comes as a refusal
   * with a ready `response`, not an exception.
   *
   * @example
   * const outcome = await ward.signIn(request, userId, { ip: socket.remoteAddress })
   * if ('problem' in outcome) return outcome.response
   * return Response.json({ token: outcome.token }, { headers: outcome.headers })
   */
  signIn(request: Request, userId: string, facts?: SignInFacts): Promise<SignInOutcome>
  /**
   * For the app's login route: failed passwords per account and per client IP
   * (`throttle.logins`). `check(c, username)` before the password is checked (throws an
   * HTTPException answering 429 when over a limit), `succeeded(c, username)` after a correct one.
   * Outside Hono, pass `{ ip }` instead of `c`. With `throttle.logins: false` it never refuses.
   *
   * @example
   * await ward.loginThrottle.check(c, username)
   * const userId = await checkPassword(username, password)
   * if (!userId) return c.json({ error: 'invalid_credentials', message: '…' }, 401)
   * await ward.loginThrottle.succeeded(c, username)
   */
  readonly loginThrottle: LoginThrottle
  /** Ends one of any user's sessions by id (for the app's own admin or security flows). */
  endSession(id: string, reason?: 'revoked' | 'admin'): Promise<boolean>
  /**
   * One page of a user's live sessions, newest login first, as the devices list shows them
   * (expired ones left out, no token hash); pass `nextCursor` back for the next page.
   *
   * @example
   * const { sessions, nextCursor } = await ward.listSessions(userId, { limit: 20 })
   */
  listSessions(userId: string, options?: ListSessionsOptions): Promise<SessionPage>
  /**
   * Ends a user's live sessions, all or all but `except` (OWASP ASVS 5.0 7.4.2, 7.4.3: after a
   * password change, when an account is disabled). Hooks fire, the caches drop them at once.
   * Returns how many ended.
   *
   * @example
   * await ward.endSessions(userId, { except: c.var.session.id }) // password changed here
   * await ward.endSessions(userId, { reason: 'admin' }) // account disabled
   */
  endSessions(userId: string, options?: EndSessionsOptions): Promise<number>
  /**
   * Ends expired sessions now (idle or past their absolute end), with hooks, batch after batch
   * for up to 30 s (half `sweepInterval` with the timer on); returns how many. The ward also
   * does this every `sweepInterval` seconds.
   */
  sweep(): Promise<number>
  /**
   * A user's known devices (`newDevice` on), last seen first, at most 100: first and last
   * sign-in, browser and OS. Empty with `newDevice` off.
   *
   * @example
   * const devices = await ward.listDevices(userId)
   */
  listDevices(userId: string): Promise<KnownDevice[]>
  /**
   * Forgets one of a user's devices: its next sign-in is a new device again. False when the
   * user has no device with this id.
   *
   * @example
   * await ward.forgetDevice(userId, device.id)
   */
  forgetDevice(userId: string, deviceId: string): Promise<boolean>
  /** Applies pending schema migrations; returns the names applied (none when up to date). */
  migrate(): Promise<string[]>
  /**
   * Stops the sweep, ends the event streams, waits for activity writes in flight, and releases
   * the database (and an embedded PGlite) and Redis. A shared ORM or Redis client is left open.
   */
  close(): Promise<void>
  /** The MikroORM instance the ward uses. */
  readonly orm: MikroORM
}

/** What `ward.createSession` takes besides the context and the user. */
/** The device a sign-in comes from: the app's id, the cookie's, or a new one for the cookie. */
function deviceOf(c: Context, options: ResolvedOptions, given: unknown): string | null {
  if (given !== undefined) {
    if (typeof given !== 'string' || given === '' || given.length > 255) {
      throw new TypeError(
        'sessionward: createSession deviceId must be a string of 1 to 255 characters',
      )
    }
    return given
  }
  if (!options.cookie) return null
  const deviceId = readDeviceCookie(c, options) ?? generateSecret(DEVICE_PREFIX)
  setDeviceCookie(c, options, deviceId)
  return deviceId
}

/** What `ward.listSessions` takes. */
export interface ListSessionsOptions {
  /** Sessions per page, 1 to 100 (default 50). */
  limit?: number
  /** The `nextCursor` of the previous page; the first page without it. */
  cursor?: string
}

/** One page of `ward.listSessions`. */
export interface SessionPage {
  sessions: SessionInfo[]
  /** Pass back as `cursor` for the next page; null on the last page. */
  nextCursor: string | null
}

/** What `ward.endSessions` takes. */
export interface EndSessionsOptions {
  /** A session id to keep (the one that changed the password). */
  except?: string
  /** Recorded as the end reason: `'revoked'` (default) or `'admin'`. */
  reason?: 'revoked' | 'admin'
}

/** `options` as a plain object with only `known` keys; a TypeError naming the method otherwise. */
function readOptions(options: unknown, known: string[], method: string): Record<string, unknown> {
  if (options === undefined) return {}
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new TypeError(`sessionward: ${method} options must be an object`)
  }
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw new TypeError(
        `sessionward: ${method} has no option ${JSON.stringify(key)}; use ${known.join(', ')}`,
      )
    }
  }
  return options as Record<string, unknown>
}

/** `ward.listSessions`' options as a page to read; a TypeError for anything else. */
function listPage(options: unknown): PageRequest {
  const { limit = DEFAULT_PAGE, cursor } = readOptions(options, ['limit', 'cursor'], 'listSessions')
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) {
    throw new TypeError(
      `sessionward: listSessions limit must be a whole number from 1 to ${MAX_PAGE}`,
    )
  }
  if (cursor === undefined) return { limit }
  const decoded = typeof cursor === 'string' ? decodeCursor(cursor) : null
  if (!decoded) {
    throw new TypeError('sessionward: listSessions cursor must be a nextCursor it returned')
  }
  return { limit, cursor: decoded }
}

/** `ward.endSessions`' options checked; a TypeError for anything else. */
function endOptions(options: unknown): { except?: string; reason: 'revoked' | 'admin' } {
  const { except, reason = 'revoked' } = readOptions(options, ['except', 'reason'], 'endSessions')
  if (except !== undefined && (typeof except !== 'string' || !isSessionId(except))) {
    throw new TypeError('sessionward: endSessions except must be a session id (a UUID)')
  }
  if (reason !== 'revoked' && reason !== 'admin') {
    throw new TypeError("sessionward: endSessions reason must be 'revoked' or 'admin'")
  }
  return except === undefined ? { reason } : { except, reason }
}

/**
 * Creates a ward: validates the options (throwing a `WardOptionsError` that names the bad
 * option), opens the database and, for embedded PGlite, applies the schema.
 *
 * @example
 * const ward = await createWard({ database: process.env.DATABASE_URL, expireAfter: 900 })
 * await ward.migrate()
 * app.use('*', ward.middleware())
 * app.use('/api/*', ward.requireSession())
 * app.route('/session', ward.routes())
 */
export async function createWard(options: WardOptions = {}): Promise<Ward> {
  const resolved = resolveOptions(options)
  const embedded = ['memory', 'directory'].includes(storeTarget(options.database).kind)
  if (resolved.bus === 'postgres' && embedded) {
    throw new WardOptionsError(
      "bus: 'postgres' needs database to be a PostgreSQL server the instances share: embedded PGlite lives inside this one process, so no other instance could hear it (omit bus to run one instance on PGlite)",
    )
  }
  const database = await openDatabase(options.database, resolved.storeTimeout)
  resolved.logger.info(database.description)
  const core = new WardCore(resolved, database.orm)
  try {
    await core.start()
  } catch (error) {
    if (database.owned) await database.orm.close(true)
    throw error
  }
  if (database.embedded) await migrate(database.orm)
  const accessTokens = resolved.jwt ? new AccessTokens(core, resolved.jwt) : undefined
  const middleware = createMiddleware(core, accessTokens)
  const requireSession = createRequireSession(core, accessTokens)
  const clientScript = new ClientScriptFile(resolved.logger)
  const createSession: Ward['createSession'] = async (c, userId, options) => {
    // Login CSRF: the request that sets the cookie gets the same Origin check as those using it.
    if (resolved.cookie && !loginOriginAllowed(c, resolved)) {
      throw problemException(LOGIN_ORIGIN_REJECTED)
    }
    checkUserId(userId, 'createSession')
    const { deviceId: given, idp: link } = readOptions(
      options,
      ['deviceId', 'idp'],
      'createSession',
    )
    const idp = idpLink(link, resolved.identityProviders)
    const deviceId = core.devices ? deviceOf(c, resolved, given) : null
    const policy = await atEdge(core.policyFor(userId, c))
    const userAgent = userAgentOf(c)
    const now = new Date()
    const { token, record, evicted } = await atEdge(
      core.signIn({ userId, policy, userAgent, ip: resolved.clientIp(c) ?? null, now, idp }),
    )
    const session = toSessionInfo(record)
    setSessionCookie(c, resolved, token, policy.maxAge)
    // The app's login answer carries the token (body or cookie): no cache may keep it.
    c.header('Cache-Control', 'no-store')
    await callHook(resolved.logger, 'onSessionStart', () =>
      resolved.hooks.onSessionStart?.(session, c),
    )
    // After onSessionStart: an audit log hears of the session before of its device.
    if (core.devices && deviceId) await core.devices.signedIn(record, deviceId, userAgent, now)
    return { token, session, evicted: evicted.map((victim) => victim.id) }
  }
  const sweeper = resolved.sweepInterval > 0 ? startSweeping(core, resolved.sweepInterval) : null
  return {
    middleware: () => middleware,
    requireSession: () => requireSession,
    routes: () => createRoutes(core, clientScript, accessTokens),
    clientScript: () => clientScript.describe(),
    adminRoutes: (options) => createAdminRoutes(core, options, middleware),
    createSession,
    authenticate: createAuthenticate(middleware),
    signIn: createSignIn(createSession),
    loginThrottle: createLoginThrottle(core.throttles, resolved.clientIp),
    endSession: async (id, reason = 'revoked') => {
      const ended = await atEdge(core.endings.end({ ids: [id] }, reason))
      return ended.length > 0
    },
    listSessions: async (userId, options) => {
      checkUserId(userId, 'listSessions')
      const { rows, next } = await atEdge(core.liveSessions(userId, listPage(options)))
      return { sessions: rows, nextCursor: next && encodeCursor(next) }
    },
    endSessions: async (userId, options) => {
      checkUserId(userId, 'endSessions')
      const { except, reason } = endOptions(options)
      const target = except === undefined ? { userId } : { userId, exceptId: except }
      return (await atEdge(core.endings.end(target, reason))).length
    },
    listDevices: async (userId) => {
      checkUserId(userId, 'listDevices')
      return core.devices ? atEdge(core.devices.list(userId)) : []
    },
    forgetDevice: async (userId, deviceId) => {
      checkUserId(userId, 'forgetDevice')
      if (!core.devices || typeof deviceId !== 'string' || !isSessionId(deviceId)) return false
      return atEdge(core.devices.forget(userId, deviceId))
    },
    sweep: () => atEdge(core.sweep()),
    migrate: () => migrate(database.orm),
    close: async () => {
      if (sweeper) clearInterval(sweeper)
      // The last activity of each session reaches the row before the database goes.
      await core.close()
      core.endings.dropPending()
      if (database.owned) await database.orm.close(true)
    },
    orm: database.orm,
  }
}

/** Sweeps expired sessions every `seconds`; the timer never keeps the process alive. */
function startSweeping(core: WardCore, seconds: number): NodeJS.Timeout {
  let running = false
  const timer = setInterval(async () => {
    // One sweep at a time: a slow database never piles them up.
    if (running) return
    running = true
    try {
      await core.sweep()
    } catch (error) {
      core.options.logger.warn(`sessionward: sweep failed: ${describeStoreError(error)}`)
    } finally {
      running = false
    }
  }, seconds * 1000)
  timer.unref()
  return timer
}
