// The server half of the JWT benchmark, run as a child process so the load generator does not
// share its event loop. Serves (a) a bare Hono route, (b) the same route behind
// `ward.middleware()` + `ward.requireSession()` authenticated by a JWT access token, and (c) the
// same guarded route with the opaque session token, for reference.
import { randomBytes } from 'node:crypto'
import { serve } from '@hono/node-server'
import { createWard, type WardEnv } from '@sessionward/server'
import { Hono } from 'hono'

const url = process.env.DATABASE_URL
const ward = await createWard({
  database: url,
  jwt: { secret: randomBytes(32).toString('base64url'), accessTtl: 3600 },
})
if (url) await ward.migrate()

const answer = { ok: true, items: [1, 2, 3] }
const bare = new Hono()
bare.get('/resource', (c) => c.json(answer))

const guarded = new Hono<WardEnv>()
guarded.use('*', ward.middleware())
guarded.get('/resource', ward.requireSession(), (c) => c.json(answer))

const control = new Hono<WardEnv>()
control.use('*', ward.middleware())
control.post('/login', async (c) => c.json(await ward.createSession(c, `bench-jwt-${Date.now()}`)))
control.route('/session', ward.routes())
control.get('/cpu', (c) => c.json(process.cpuUsage()))

const ports: number[] = []
for (const app of [bare, guarded, control]) {
  await new Promise<void>((resolve) => {
    serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, (info) => {
      ports.push(info.port)
      resolve()
    })
  })
}
const [bareP, guardedP, controlP] = ports
const database = url ? 'PostgreSQL' : 'PGlite'
process.stdout.write(
  `${JSON.stringify({ bare: bareP, guarded: guardedP, control: controlP, database })}\n`,
)
process.on('SIGTERM', async () => {
  await ward.close()
  process.exit(0)
})
