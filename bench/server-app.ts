// The server half of `npm run bench`, run as a child process so the load generator does not
// share its event loop. Serves a bare Hono route; the same route behind `ward.requireSession()`
// (opaque token or JWT) and behind `ward.middleware()` + `ward.requireSession()`; and two
// references: one no-op async middleware (what any middleware costs in Hono) and one that only
// takes the SHA-256 of the Authorization header (what any check of a hashed token costs).
// Reports the SQL statements the ward sent and the process's CPU time.
import { hash, randomBytes } from 'node:crypto'
import { serve } from '@hono/node-server'
import { MikroORM } from '@mikro-orm/core'
import { createWard, migrate, SessionEntity, type WardEnv } from '@sessionward/server'
import { Hono } from 'hono'
import { cpuPerRequest } from './in-process.ts'

const statements = { total: 0, reads: 0, writes: 0 }
const logger = (message: string) => {
  if (!message.startsWith('[query]')) return
  statements.total++
  if (/\bselect\b/i.test(message)) statements.reads++
  else statements.writes++
}
const common = { entities: [SessionEntity], debug: ['query' as const], colors: false, logger }
const url = process.env.DATABASE_URL
let orm: MikroORM
if (url) {
  const { PostgreSqlDriver } = await import('@mikro-orm/postgresql')
  orm = await MikroORM.init({ ...common, driver: PostgreSqlDriver, clientUrl: url })
} else {
  const { PgliteDriver } = await import('@mikro-orm/pglite')
  orm = await MikroORM.init({ ...common, driver: PgliteDriver, dbName: 'memory://' })
}
await migrate(orm)
const ward = await createWard({
  database: orm,
  // stdout carries only the ports line the parent reads; the ward's start-up line goes to stderr.
  logger: { info: console.error, warn: console.warn, error: console.error },
  jwt: { secret: randomBytes(32).toString('base64url'), accessTtl: 3600 },
  // The bench measures the session cache: the guess throttle would answer the repeated
  // unknown tokens with 429 before any lookup (its own tests cover it).
  throttle: false,
})

// (g): the same ward with the Redis channel on, when the bench has a Redis.
const redisWard = process.env.REDIS_URL
  ? await createWard({
      database: orm,
      redis: process.env.REDIS_URL,
      logger: { info: console.error, warn: console.warn, error: console.error },
      throttle: false,
    })
  : null

const answer = { ok: true, items: [1, 2, 3] }
// The hashing reference keeps its digests so the work cannot be optimised away.
const digests = new Set<string>()
const bare = new Hono()
bare.get('/resource', (c) => c.json(answer))

const guarded = new Hono<WardEnv>()
guarded.get('/resource', ward.requireSession(), (c) => c.json(answer))

const layered = new Hono<WardEnv>()
layered.use('*', ward.middleware())
layered.get('/resource', ward.requireSession(), (c) => c.json(answer))

const guardedRedis = new Hono<WardEnv>()
if (redisWard) guardedRedis.get('/resource', redisWard.requireSession(), (c) => c.json(answer))

const noop = new Hono()
noop.get(
  '/resource',
  async (_c, next) => {
    await next()
  },
  (c) => c.json(answer),
)

const hashed = new Hono()
hashed.get(
  '/resource',
  async (c, next) => {
    digests.add(hash('sha256', c.req.header('authorization') ?? '', 'hex'))
    await next()
  },
  (c) => c.json(answer),
)

const control = new Hono<WardEnv>()
control.use('*', ward.middleware())
control.post('/login', async (c) => c.json(await ward.createSession(c, `bench-${Date.now()}`)))
control.route('/session', ward.routes())
control.get('/stats', (c) => c.json({ ...statements, cpu: process.cpuUsage() }))
// The in-process measure (in-process.ts), run here between the socket rounds: the same apps,
// the requests' raw header lines sent by the parent (the session token, the JWT, the cookie).
control.post('/in-process', async (c) => {
  const { opaque, jwt, cookie, rounds, batch } = await c.req.json<{
    opaque: string[]
    jwt: string[]
    cookie: string[]
    rounds: number
    batch: number
  }>()
  const cases = {
    a: { fetch: bare.fetch, rawHeaders: opaque },
    b: { fetch: guarded.fetch, rawHeaders: opaque },
    c: { fetch: layered.fetch, rawHeaders: opaque },
    d: { fetch: guarded.fetch, rawHeaders: jwt },
    e: { fetch: noop.fetch, rawHeaders: opaque },
    f: { fetch: hashed.fetch, rawHeaders: opaque },
    k: { fetch: guarded.fetch, rawHeaders: cookie },
  }
  return c.json(await cpuPerRequest(cases, rounds, batch))
})

const ports: number[] = []
for (const app of [bare, guarded, layered, noop, hashed, control, guardedRedis]) {
  await new Promise<void>((resolve) => {
    serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, (info) => {
      ports.push(info.port)
      resolve()
    })
  })
}
const [bareP, guardedP, layeredP, noopP, hashedP, controlP, guardedRedisP] = ports
const database = url ? 'PostgreSQL' : 'PGlite'
process.stdout.write(
  `${JSON.stringify({ bare: bareP, guarded: guardedP, layered: layeredP, noop: noopP, hashed: hashedP, control: controlP, guardedRedis: redisWard ? guardedRedisP : 0, database })}\n`,
)
process.on('SIGTERM', async () => {
  await ward.close()
  await redisWard?.close()
  await orm.close(true)
  process.exit(0)
})
