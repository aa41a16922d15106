// `npm start`: serves the demo on HOST:PORT (127.0.0.1:3000). See docs/demo-and-e2e.md.
import { serve } from '@hono/node-server'
import { createDemoApp } from './app.ts'
import { configFromEnv } from './config.ts'

const config = configFromEnv()
// New-device alerts on (issue 23): the report link the onNewDevice hook would mail names this.
const origin = `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${config.port}`
const demo = await createDemoApp({ ...config, reportUrl: `${origin}/session/report` })
const store = config.database?.startsWith('postgres')
  ? 'PostgreSQL'
  : config.database
    ? `PGlite in ${config.database}`
    : 'PGlite in memory'
// The Redis URL itself is not printed: it may carry a password.
const shared = config.redisUrl ? ', Redis' : ''

const server = serve(
  { fetch: demo.app.fetch, hostname: config.host, port: config.port },
  (info) => {
    console.info(
      `sessionward demo on http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${info.port} ` +
        `(${store}${shared}; warning after ${config.warnAfter} s, sign-out after ${config.expireAfter} s, ` +
        `${config.maxSessions || 'unlimited'} sessions per user). Sign in as alice/alice, bob/bob or admin/admin.`,
    )
  },
)

let stopping = false
function stop(): void {
  if (stopping) return
  stopping = true
  server.close()
  demo.close().finally(() => process.exit(0))
}
process.on('SIGINT', stop)
process.on('SIGTERM', stop)
