import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { LOCALES, matchLocale } from '@sessionward/client/locales'
import {
  createWard,
  type NewDeviceEvent,
  type SessionPolicy,
  StoreUnavailableError,
  type Ward,
  type WardEnv,
  type WardLogger,
} from '@sessionward/server'
import { type Context, Hono } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { csrf } from 'hono/csrf'
import { HTTPException } from 'hono/http-exception'
import { secureHeaders } from 'hono/secure-headers'
import { DEMO_DEFAULTS, type DemoConfig } from './config.ts'
import { type DemoIdentityProvider, identityProviderSignIn } from './identity-provider.ts'
import {
  dashboardPage,
  devicesPage,
  languagePage,
  loginPage,
  notFoundPage,
  type PagePolicy,
  reactPage,
} from './pages.ts'
import { reactBundle } from './react/bundle.ts'
import { tailwindAssets, tailwindPage } from './tailwind.ts'
import { createUserDirectory, type DemoUser, type PublicUser, SEEDED_USERS } from './users.ts'

/** What `createDemoApp` accepts: the settings of DESIGN §5, plus extra accounts (for tests). */
export interface DemoAppOptions extends Partial<DemoConfig> {
  /** Accounts besides the seeded alice, bob and admin. */
  users?: DemoUser[]
  /** Where the demo and the ward report problems (and client aborts, at debug). Default `console`. */
  logger?: WardLogger
  /**
   * An OpenID Provider to sign in through (`/login/idp`); its back-channel logouts reach the
   * ward's `/session/backchannel-logout`.
   */
  identityProvider?: DemoIdentityProvider
  /**
   * Known devices and new-device alerts (issue 23): the absolute URL of the report route, as the
   * mail link of `onNewDevice` names it (`http://localhost:3000/session/report`). Off when omitted.
   */
  reportUrl?: string
  /** With `reportUrl`: a new device's session waits for approval (`newDevice.hold`). */
  holdNewDevices?: boolean
  /** The SDK ends the session when the screen locks (Chromium, after permission). */
  endOnScreenLock?: boolean
  /** Told of each new-device sign-in, with its report link (the e2e screenshots open it). */
  onNewDevice?: (event: NewDeviceEvent) => void
  /** `'postgres'`: the instances hear each other through PostgreSQL (a test's choice). */
  bus?: 'postgres'
}

/** A running demo: serve `app.fetch` with any Hono adapter. */
export interface DemoApp {
  app: Hono<WardEnv>
  ward: Ward
  config: DemoConfig
  /** The per-user settings the ward applies (admin: shorter idle, no session cap). */
  policyFor(user: PublicUser): SessionPolicy
  close(): Promise<void>
}

const PUBLIC = join(import.meta.dirname, 'public')
const require = createRequire(import.meta.url)

interface Asset {
  body: string
  type: string
}

function loadAssets(): Map<string, Asset> {
  const assets = new Map<string, Asset>()
  // The script-tag bundle through the client package's public entry point, as an app would.
  const bundle = require.resolve('@sessionward/client/iife')
  try {
    assets.set('sessionward.iife.js', {
      body: readFileSync(bundle, 'utf8'),
      type: 'text/javascript; charset=utf-8',
    })
  } catch {
    throw new Error(
      `demo: ${bundle} is missing: build the client first (npm run build -w @sessionward/client)`,
    )
  }
  // What the bundle imports next to itself when a page needs it (the new-device notice, the
  // screen-lock watch), named as it looks for it.
  assets.set('sessionward.iife.extras.js', {
    body: readFileSync(require.resolve('@sessionward/client/iife-extras'), 'utf8'),
    type: 'text/javascript; charset=utf-8',
  })
  // The dialog's locale files beside the bundle, named as it looks for them.
  for (const tag of LOCALES) {
    assets.set(`sessionward.iife.locale.${tag}.json`, {
      body: readFileSync(require.resolve(`@sessionward/client/locales/${tag}.json`), 'utf8'),
      type: 'application/json; charset=utf-8',
    })
  }
  const types: Record<string, string> = {
    css: 'text/css; charset=utf-8',
    js: 'text/javascript; charset=utf-8',
    svg: 'image/svg+xml',
  }
  for (const name of [
    'demo.css',
    'ward-ui.js',
    'dashboard.js',
    'devices.js',
    'login.js',
    'favicon.svg',
  ]) {
    const type = types[name.slice(name.lastIndexOf('.') + 1)] ?? 'application/octet-stream'
    assets.set(name, { body: readFileSync(join(PUBLIC, name), 'utf8'), type })
  }
  return assets
}

/**
 * The client's address behind the cluster's front: the last `X-Forwarded-For` entry, the one
 * the front appended. Earlier entries came from the client and prove nothing.
 */
function forwardedClientIp(c: Context): string | undefined {
  return c.req.header('x-forwarded-for')?.split(',').at(-1)?.trim() || undefined
}

function problem(c: Context, status: 400 | 401, error: string, message: string) {
  return c.json({ error, message }, status)
}

// A login body is a few dozen bytes: a larger one is refused before it is read whole.
const MAX_LOGIN_BODY = 4096

/** The login routes' body limit, answering 400 JSON like every other bad login body. */
const loginBodyLimit = bodyLimit({
  maxSize: MAX_LOGIN_BODY,
  onError: (c) =>
    problem(c, 400, 'invalid_request', `the body must be at most ${MAX_LOGIN_BODY} bytes`),
})

/**
 * Why a login body could not be read, as a 400 answer. A client that went away mid-upload is
 * noted at debug, without a stack: anyone can cause it, and it is no fault of the server.
 */
function unreadableBody(c: Context, logger: WardLogger, message: string): Response {
  if (c.req.raw.signal.aborted)
    logger.debug?.(`demo: client aborted ${c.req.method} ${c.req.routePath}`)
  return problem(c, 400, 'invalid_request', message)
}

/**
 * The demo app of DESIGN §5: a login form and JSON login, a dashboard, a devices page, and the
 * ward's `/session` routes, under a strict Content-Security-Policy. Uses only the public entry
 * points of `@sessionward/server` and `@sessionward/client`.
 *
 * @example
 * const demo = await createDemoApp({ warnAfter: 4, expireAfter: 8 })
 * serve({ fetch: demo.app.fetch, hostname: '127.0.0.1', port: 3000 })
 */
export async function createDemoApp(options: DemoAppOptions = {}): Promise<DemoApp> {
  const logger = options.logger ?? console
  const config: DemoConfig = {
    database: options.database,
    redisUrl: options.redisUrl,
    trustProxy: options.trustProxy ?? false,
    warnAfter: options.warnAfter ?? DEMO_DEFAULTS.warnAfter,
    expireAfter: options.expireAfter ?? DEMO_DEFAULTS.expireAfter,
    maxSessions: options.maxSessions ?? DEMO_DEFAULTS.maxSessions,
  }
  const assets = loadAssets()
  for (const [name, body] of tailwindAssets()) {
    assets.set(name, { body, type: 'text/css; charset=utf-8' })
  }
  const users = createUserDirectory([...SEEDED_USERS, ...(options.users ?? [])])
  const base: SessionPolicy = {
    warnAfter: config.warnAfter,
    expireAfter: config.expireAfter,
    maxAge: 12 * 60 * 60,
    maxSessions: config.maxSessions,
    onLimit: 'evict-oldest',
  }
  // Admins get half the idle time and no cap on sessions (DESIGN §3's policy example).
  const policyFor = (user: PublicUser | null): SessionPolicy =>
    user?.role === 'admin'
      ? {
          ...base,
          warnAfter: base.warnAfter / 2,
          expireAfter: base.expireAfter / 2,
          maxSessions: 0,
        }
      : base

  // What pages start the SDK with: the user's policy, and the demo's client-side switches.
  const pagePolicy = (user: PublicUser): PagePolicy => ({
    ...policyFor(user),
    endOnScreenLock: options.endOnScreenLock === true,
  })
  const ward = await createWard({
    database: config.database,
    ...base,
    policy: (userId) => policyFor(users.get(userId)),
    passive: ['/api/poll'],
    // Ends and activity reach the other instances of `npm run demo:cluster` through Redis.
    ...(config.redisUrl ? { redis: config.redisUrl } : {}),
    ...(options.bus ? { bus: options.bus } : {}),
    ...(config.trustProxy ? { clientIp: forwardedClientIp } : {}),
    ...(options.reportUrl
      ? { newDevice: { reportUrl: options.reportUrl, hold: options.holdNewDevices === true } }
      : {}),
    ...(options.onNewDevice ? { hooks: { onNewDevice: options.onNewDevice } } : {}),
    ...(options.identityProvider
      ? {
          identityProviders: [
            {
              issuer: options.identityProvider.issuer,
              audience: options.identityProvider.clientId,
            },
          ],
        }
      : {}),
    logger,
  })
  // Embedded PGlite is migrated by createWard; PostgreSQL is the app's to migrate (idempotent).
  await ward.migrate()

  const app = new Hono<WardEnv>()
  app.onError((error, c) => {
    // A body cut off mid-way (or framed so Node's parser cut the connection) fails wherever it
    // is read, e.g. in bodyLimit: the client's doing, so no error line.
    if (c.req.raw.signal.aborted) return unreadableBody(c, logger, 'the request broke off')
    if (error instanceof HTTPException) return error.getResponse()
    if (error instanceof StoreUnavailableError) {
      return c.json(
        { error: 'store_unavailable', message: 'the session store is unavailable' },
        503,
      )
    }
    logger.error('demo: request failed', error)
    return c.json({ error: 'internal', message: 'unexpected server error' }, 500)
  })
  app.use(
    '*',
    secureHeaders({
      // Served over plain http on 127.0.0.1: HSTS would mean nothing there.
      strictTransportSecurity: false,
      contentSecurityPolicy: {
        defaultSrc: ["'self'"],
        baseUri: ["'none'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
        objectSrc: ["'none'"],
      },
    }),
  )
  // Static files come before the ward: fetching a stylesheet is not user activity.
  app.get('/assets/react-page.js', async (c) => {
    const bundle = await reactBundle()
    if ('error' in bundle) return c.notFound()
    return c.body(bundle.code, 200, {
      'content-type': 'text/javascript; charset=utf-8',
      'cache-control': 'no-cache',
    })
  })
  app.get('/assets/:name', (c) => {
    const asset = assets.get(c.req.param('name'))
    if (!asset) return c.notFound()
    return c.body(asset.body, 200, { 'content-type': asset.type, 'cache-control': 'no-cache' })
  })

  // Past the static files every answer is about the visitor's session or carries its token (the
  // login answers included): no cache may keep it. The client script keeps its own caching.
  app.use('*', async (c, next) => {
    await next()
    if (!c.res.headers.has('cache-control')) c.res.headers.set('cache-control', 'no-store')
  })
  app.use('*', ward.middleware())
  const requireSession = ward.requireSession()
  app.use('/api/*', (c, next) => (c.req.path === '/api/login' ? next() : requireSession(c, next)))
  const currentUser = (c: Context<WardEnv>): PublicUser | null => {
    const session = c.var.session
    return session ? users.get(session.userId) : null
  }

  app.route('/session', ward.routes())
  // The library's admin view (JSON and server-rendered pages), for users with the admin role.
  app.route(
    '/admin/sessions',
    ward.adminRoutes({ authorize: (c) => currentUser(c)?.role === 'admin' }),
  )

  app.post('/api/login', loginBodyLimit, async (c) => {
    let body: unknown
    try {
      body = await c.req.json()
    } catch {
      return unreadableBody(c, logger, 'the body must be JSON like {"username","password"}')
    }
    const { username, password } = (body ?? {}) as Record<string, unknown>
    if (typeof username !== 'string' || typeof password !== 'string') {
      return problem(c, 400, 'invalid_request', 'username and password must be strings')
    }
    // Failed passwords per account and per address: over a limit it throws, answering 429 JSON.
    await ward.loginThrottle.check(c, username)
    const user = users.verify(username, password)
    if (!user) return problem(c, 401, 'invalid_credentials', 'wrong username or password')
    await ward.loginThrottle.succeeded(c, username)
    const { token, session, evicted } = await ward.createSession(c, user.id)
    return c.json({ token, session, evicted })
  })
  app.get('/api/me', (c) => {
    const session = c.var.session
    if (!session) throw new Error('unreachable: requireSession let a request through')
    return c.json({
      user: currentUser(c),
      session: {
        id: session.id,
        createdAt: session.createdAt,
        lastActivityAt: session.lastActivityAt,
        expiresAt: session.expiresAt,
      },
    })
  })
  // Passive (see `passive` above): polling does not keep an idle user signed in.
  app.get('/api/poll', (c) => {
    const session = c.var.session
    if (!session) throw new Error('unreachable: requireSession let a request through')
    c.header('cache-control', 'no-store')
    return c.json({
      lastActivityAt: session.lastActivityAt,
      idleFor: Math.max(0, (Date.now() - session.lastActivityAt.getTime()) / 1000),
    })
  })

  const withIdentityProvider = Boolean(options.identityProvider)
  app.get('/login', (c) => {
    if (c.var.session) return c.redirect('/', 303)
    return c.html(
      loginPage({ reason: c.req.query('reason'), identityProvider: withIdentityProvider }),
    )
  })
  if (options.identityProvider) {
    app.route('/', identityProviderSignIn(ward, users, options.identityProvider))
  }
  // The form's answer to a throttled sign-in: the login page again, with the 429 and its wait.
  const signInThrottled = async (c: Context<WardEnv>, username: string) => {
    try {
      await ward.loginThrottle.check(c, username)
      return null
    } catch (error) {
      if (!(error instanceof HTTPException) || error.status !== 429) throw error
      const retryAfter = error.getResponse().headers.get('retry-after') ?? '60'
      c.header('retry-after', retryAfter)
      const wait = `Too many failed sign-ins. Try again in ${retryAfter} seconds.`
      return c.html(loginPage({ error: wait, username }), 429)
    }
  }
  // Login CSRF: the form may only be posted from this origin (Hono's Origin / Sec-Fetch-Site
  // check). Elsewhere the ward checks the Origin of every state-changing cookie request itself.
  app.post('/login', csrf(), loginBodyLimit, async (c) => {
    let form: Awaited<ReturnType<typeof c.req.parseBody>>
    try {
      form = await c.req.parseBody()
    } catch {
      // Malformed multipart (a missing or wrong boundary, a cut part) cannot be parsed.
      return unreadableBody(c, logger, 'the body must be a form with username and password fields')
    }
    const username = typeof form.username === 'string' ? form.username : ''
    const password = typeof form.password === 'string' ? form.password : ''
    const throttled = await signInThrottled(c, username)
    if (throttled) return throttled
    const user = users.verify(username, password)
    if (!user) {
      return c.html(loginPage({ error: 'Wrong username or password.', username }), 401)
    }
    await ward.loginThrottle.succeeded(c, username)
    await ward.createSession(c, user.id)
    return c.redirect('/', 303)
  })

  // Pages of a signed-out visitor send them to the login form.
  app.get('/', (c) => {
    const user = currentUser(c)
    const session = c.var.session
    if (!user || !session) return c.redirect('/login', 303)
    c.header('cache-control', 'no-store')
    return c.html(
      dashboardPage({ user, policy: pagePolicy(user), lastActivityAt: session.lastActivityAt }),
    )
  })
  app.get('/devices', (c) => {
    const user = currentUser(c)
    if (!user) return c.redirect('/login', 303)
    c.header('cache-control', 'no-store')
    return c.html(devicesPage({ user, policy: pagePolicy(user) }))
  })
  // The session through the React hook; its script is bundled on the first visit (a second).
  app.get('/react', async (c) => {
    const user = currentUser(c)
    if (!user) return c.redirect('/login', 303)
    const bundle = await reactBundle()
    const unavailable = 'error' in bundle ? bundle.error : null
    if (unavailable) logger.warn(`demo: the React page could not be built: ${unavailable}`)
    c.header('cache-control', 'no-store')
    return c.html(
      reactPage({ user, policy: pagePolicy(user), unavailable }),
      unavailable ? 503 : 200,
    )
  })
  // A page under Tailwind v4's preflight (demo/tailwind.ts), when tailwindcss is installed.
  app.get('/tailwind', (c) => {
    const user = currentUser(c)
    if (!user) return c.redirect('/login', 303)
    if (!assets.has('tailwind-preflight.css')) return c.html(notFoundPage(user), 404)
    c.header('cache-control', 'no-store')
    return c.html(tailwindPage({ user, policy: pagePolicy(user) }))
  })
  // The SDK's dialog in the page's language (demo/pages.ts: languagePage).
  app.get('/language/:tag', (c) => {
    const user = currentUser(c)
    if (!user) return c.redirect('/login', 303)
    const lang = c.req.param('tag')
    const shipped = matchLocale(lang)
    const file = shipped && assets.get(`sessionward.iife.locale.${shipped}.json`)
    if (!file) return c.html(notFoundPage(user), 404)
    c.header('cache-control', 'no-store')
    const { dir = 'ltr' } = JSON.parse(file.body)
    return c.html(languagePage({ user, policy: pagePolicy(user), lang, dir }))
  })
  app.notFound((c) =>
    c.req.path.startsWith('/api/')
      ? c.json({ error: 'not_found', message: 'no such route' }, 404)
      : c.html(notFoundPage(null), 404),
  )

  return { app, ward, config, policyFor, close: () => ward.close() }
}
