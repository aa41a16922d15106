// One ward instance as its own Node process, for the many-instance tests and the propagation
// benchmark: `node --conditions=source ward-process.ts` with DATABASE_URL, REDIS_URL (optional)
// or REDIS_CLUSTER (a Redis Cluster node's `host:port`: the ward gets an ioredis Cluster client
// that starts from it) or REDIS_SENTINEL (`host:port name`: a client that asks that Sentinel for
// the master) and WARD_OPTIONS (JSON). Prints `listening <port>` on stdout once it
// serves; the ward's log lines follow on stdout, one per line, prefixed with their level.
import { serve } from '@hono/node-server'
import { Hono } from 'hono'
import { Cluster, Redis } from 'ioredis'
import type { WardEnv } from '../middleware.ts'
import type { WardOptions } from '../options.ts'
import { createWard } from '../ward.ts'

/** An ioredis Cluster client that discovers the cluster from one node. */
function clusterFrom(node: string): Cluster {
  const [host, port] = node.split(':')
  return new Cluster([{ host, port: Number(port) }], { redisOptions: { commandTimeout: 1_000 } })
}

/** An ioredis client that asks a Sentinel (`host:port name`) where the master is. */
function sentinelFrom(value: string): Redis {
  const [node = '', name] = value.split(' ')
  const [host, port] = node.split(':')
  return new Redis({ sentinels: [{ host, port: Number(port) }], name, commandTimeout: 1_000 })
}

const options = JSON.parse(process.env.WARD_OPTIONS ?? '{}') as WardOptions
const line =
  (level: string) =>
  (...parts: unknown[]) =>
    console.log(`${level} ${parts.map(String).join(' ')}`)
const ward = await createWard({
  passive: ['/api/poll'],
  ...options,
  database: process.env.DATABASE_URL,
  ...(process.env.REDIS_URL ? { redis: process.env.REDIS_URL } : {}),
  ...(process.env.REDIS_CLUSTER ? { redis: clusterFrom(process.env.REDIS_CLUSTER) } : {}),
  ...(process.env.REDIS_SENTINEL ? { redis: sentinelFrom(process.env.REDIS_SENTINEL) } : {}),
  logger: { info: line('info'), warn: line('warn'), error: line('error') },
})
await ward.migrate()

const app = new Hono<WardEnv>()
app.use('*', ward.middleware())
app.post('/login', async (c) => {
  const { userId } = await c.req.json<{ userId: string }>()
  const created = await ward.createSession(c, userId)
  return c.json({ token: created.token, id: created.session.id })
})
app.use('/api/*', ward.requireSession())
app.get('/api/me', (c) => c.json({ userId: c.var.session?.userId }))
app.get('/api/poll', (c) => c.json({ ok: true }))
app.route('/session', ward.routes())
// Test instances only: every caller is an admin.
app.route('/admin/sessions', ward.adminRoutes({ authorize: () => true }))

const server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, (info) => {
  console.log(`listening ${info.port}`)
})
const stop = async () => {
  server.close()
  await ward.close()
  process.exit(0)
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
