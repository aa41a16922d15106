// One instance of one library for `npm run bench:peers`, run as a child process:
//   node --conditions=source bench/peers-app.ts <library> <port>
// Every library serves the same four routes on its own framework:
//   GET  /bare     the framework's route with no session work (the baseline)
//   GET  /guarded  the same answer behind the library's session check (401 without a session)
//   POST /login    a session for user-1, its cookie in Set-Cookie
//   POST /logout   ends the request's session the library's way (sessionward: /session/logout)
//   GET  /cpu      this process's CPU time so far (µs), for CPU per request
// Stores: PostgreSQL (DATABASE_URL) and Redis (REDIS_URL), shared by the instances of a library.
import { createServer } from 'node:http'
import { serve } from '@hono/node-server'
import { createWard, type WardEnv } from '@sessionward/server'
import { expressWard } from '@sessionward/server/express'
import express, { type Express } from 'express'
import { Hono } from 'hono'

const [library = '', portText = '0'] = process.argv.slice(2)
const port = Number(portText)
const database = String(process.env.DATABASE_URL)
const redisUrl = String(process.env.REDIS_URL)
const answer = { ok: true, items: [1, 2, 3] }
const cpu = () => {
  const { user, system } = process.cpuUsage()
  return { micros: user + system }
}
// The same secret on every instance of a library: each must read the other's cookies.
const SECRET = 'sessionward-bench-secret-of-at-least-32-characters'
const quiet = { info: console.error, warn: console.error, error: console.error }

function listen(app: Express): void {
  createServer(app).listen(port, '127.0.0.1', () => console.log('ready'))
}

function baseExpress(): Express {
  const app = express()
  app.disable('x-powered-by')
  app.get('/bare', (_req, res) => res.json(answer))
  app.get('/cpu', (_req, res) => res.json(cpu()))
  return app
}

async function expressSession(): Promise<void> {
  const { default: session } = await import('express-session')
  const { RedisStore } = await import('connect-redis')
  const { createClient } = await import('redis')
  const client = createClient({ url: redisUrl })
  await client.connect()
  const sessions = session({
    store: new RedisStore({ client, prefix: 'bench-peers:' }),
    secret: SECRET,
    resave: false,
    saveUninitialized: false,
    cookie: { httpOnly: true, sameSite: 'lax', maxAge: 12 * 3600 * 1000 },
  })
  // req.session is sessionward's in this repository's types (the Express adapter declares it).
  type Stored = import('express-session').Session & { userId?: string }
  const stored = (req: object) => (req as { session: Stored }).session
  const app = baseExpress()
  app.get('/guarded', sessions, (req, res) => {
    if (!stored(req).userId) return res.status(401).json({ error: 'unauthenticated' })
    res.json(answer)
  })
  app.post('/login', sessions, (req, res) => {
    stored(req).userId = 'user-1'
    stored(req).save(() => res.json({ ok: true }))
  })
  app.post('/logout', sessions, (req, res) => stored(req).destroy(() => res.status(204).end()))
  listen(app)
}

async function ironSession(): Promise<void> {
  const { getIronSession } = await import('iron-session')
  const options = { password: SECRET, cookieName: 'bench', ttl: 12 * 3600 }
  const app = baseExpress()
  app.get('/guarded', async (req, res) => {
    const session = await getIronSession<{ userId?: string }>(req, res, options)
    if (!session.userId) return res.status(401).json({ error: 'unauthenticated' })
    res.json(answer)
  })
  app.post('/login', async (req, res) => {
    const session = await getIronSession<{ userId?: string }>(req, res, options)
    session.userId = 'user-1'
    await session.save()
    res.json({ ok: true })
  })
  app.post('/logout', async (req, res) => {
    const session = await getIronSession<{ userId?: string }>(req, res, options)
    session.destroy()
    res.status(204).end()
  })
  listen(app)
}

async function betterAuth(cookieCache: boolean): Promise<void> {
  const { betterAuth: create } = await import('better-auth')
  const { toNodeHandler, fromNodeHeaders } = await import('better-auth/node')
  const { getMigrations } = await import('better-auth/db/migration')
  const { Pool } = await import('pg')
  const auth = create({
    database: new Pool({ connectionString: database }),
    secret: SECRET,
    baseURL: `http://127.0.0.1:${port}`,
    trustedOrigins: ['http://127.0.0.1'],
    emailAndPassword: { enabled: true },
    // The cookie cache: the session is read from a signed cookie for maxAge seconds (300, the
    // documented example), without a database read.
    session: { cookieCache: { enabled: cookieCache, maxAge: 300 } },
    rateLimit: { enabled: false },
  })
  await (await getMigrations(auth.options)).runMigrations()
  const app = baseExpress()
  const handler = toNodeHandler(auth)
  app.get('/guarded', async (req, res) => {
    const session = await auth.api.getSession({ headers: fromNodeHeaders(req.headers) })
    if (!session) return res.status(401).json({ error: 'unauthenticated' })
    res.json(answer)
  })
  const email = `bench-${cookieCache ? 'cache' : 'plain'}@example.com`
  app.post('/login', async (_req, res) => {
    const body = { email, password: 'bench-password-1', name: 'Bench' }
    await auth.api.signUpEmail({ body }).catch(() => undefined) // once per database
    const signedIn = await auth.api.signInEmail({ body, asResponse: true })
    for (const line of signedIn.headers.getSetCookie()) res.append('set-cookie', line)
    res.status(signedIn.status).json({ ok: signedIn.ok })
  })
  app.post('/logout', async (req, res) => {
    const out = await auth.api.signOut({ headers: fromNodeHeaders(req.headers), asResponse: true })
    res.status(out.ok ? 204 : out.status).end()
  })
  app.all('/api/auth/*splat', handler)
  listen(app)
}

async function sessionwardWard() {
  return createWard({
    database,
    redis: redisUrl,
    logger: quiet,
    // The bench measures the check, not the guess throttle; the cookie travels over plain http.
    throttle: false,
    cookie: { name: 'sessionward', secure: false },
  })
}

async function sessionwardHono(): Promise<void> {
  const ward = await sessionwardWard()
  await ward.migrate()
  const app = new Hono<WardEnv>()
  app.get('/bare', (c) => c.json(answer))
  app.get('/cpu', (c) => c.json(cpu()))
  app.get('/guarded', ward.requireSession(), (c) => c.json(answer))
  app.post('/login', async (c) => {
    await ward.createSession(c, 'user-1')
    return c.json({ ok: true })
  })
  app.route('/session', ward.routes())
  serve({ fetch: app.fetch, hostname: '127.0.0.1', port }, () => console.log('ready'))
}

async function sessionwardExpress(): Promise<void> {
  const ward = await sessionwardWard()
  await ward.migrate()
  const sw = expressWard(ward)
  const app = baseExpress()
  app.get('/guarded', sw.requireSession(), (_req, res) => res.json(answer))
  app.post('/login', async (req, res) => {
    await sw.signIn(req, res, 'user-1')
    res.json({ ok: true })
  })
  app.use('/session', sw.routes())
  app.use(sw.errors())
  listen(app)
}

const libraries: Record<string, () => Promise<void>> = {
  'express-session': expressSession,
  'iron-session': ironSession,
  'better-auth': () => betterAuth(false),
  'better-auth-cache': () => betterAuth(true),
  'sessionward-hono': sessionwardHono,
  'sessionward-express': sessionwardExpress,
}
const start = libraries[library]
if (!start) throw new Error(`unknown library ${library}: ${Object.keys(libraries).join(', ')}`)
await start()
