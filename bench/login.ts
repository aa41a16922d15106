import { createWard, type WardEnv, type WardOptions } from '@sessionward/server'
import { Hono } from 'hono'
import { freshDatabase, postgresSkipReason } from '../packages/server/src/test-support/postgres.ts'
import { skipOutsideCi } from '../packages/server/src/test-support/services.ts'

const LOGINS = 3000
const CONCURRENCY = 16
const USERS = 100

interface LoginRun {
  perSecond: number
  p50: number
  p99: number
  failures: number
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0

async function run(database: string, options: WardOptions): Promise<LoginRun> {
  const ward = await createWard({ ...options, database })
  await ward.migrate()
  const app = new Hono<WardEnv>()
  app.post('/login/:user', async (c) => c.json(await ward.createSession(c, c.req.param('user'))))
  const latencies: number[] = []
  let next = 0
  let failures = 0
  const started = performance.now()
  const worker = async () => {
    while (next < LOGINS) {
      const user = `user-${next++ % USERS}`
      const begin = performance.now()
      const response = await app.request(`/login/${user}`, {
        method: 'POST',
        headers: { 'user-agent': 'sessionward-bench' },
      })
      latencies.push(performance.now() - begin)
      if (response.status !== 200) failures++
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker))
  const seconds = (performance.now() - started) / 1000
  await ward.close()
  latencies.sort((a, b) => a - b)
  return {
    perSecond: LOGINS / seconds,
    p50: percentile(latencies, 0.5),
    p99: percentile(latencies, 0.99),
    failures,
  }
}

/**
 * Login throughput: `createSession` with `maxSessions: 3` (every login past the third evicts
 * the least recently active session under the per-user lock), on PostgreSQL, with the session
 * log trimmed to 20 rows per user (the default) and kept whole (`logLimit: null`) in the same
 * run, so the cost of trimming shows as a ratio.
 */
export async function benchLogin(): Promise<string> {
  const skip = skipOutsideCi('the login bench', postgresSkipReason)
  if (skip) return `## Logins\n\nSkipped: ${skip} (this benchmark is for PostgreSQL).`
  const url = String(process.env.DATABASE_URL)
  const base = `${new URL(url).pathname.slice(1) || 'postgres'}_bench_login`
  const trimmed = await run(await freshDatabase(url, `${base}_trimmed`), { maxSessions: 3 })
  const kept = await run(await freshDatabase(url, `${base}_kept`), {
    maxSessions: 3,
    logLimit: null,
  })
  const row = (label: string, r: LoginRun) =>
    `| ${label} | ${Math.round(r.perSecond)} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${r.failures} |`
  return [
    '## Logins: `createSession` with a cap of 3 (PostgreSQL)',
    '',
    `${LOGINS} logins spread over ${USERS} users (so ${LOGINS - USERS * 3} of them evict), ${CONCURRENCY} at a time, in-process through a Hono route.`,
    '',
    '| logLimit | sessions/s | p50 ms | p99 ms | failed |',
    '|---|---:|---:|---:|---:|',
    row('20 (default: trims the log as sessions end)', trimmed),
    row('null (keeps every ended row)', kept),
    '',
    `- Trimming the log costs ${((1 - trimmed.perSecond / kept.perSecond) * 100).toFixed(1)}% of login throughput.`,
  ].join('\n')
}
