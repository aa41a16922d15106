// `npm run bench`, many instances: how long an end made on one ward instance takes to reach a
// browser's `/session/events` stream held on another (two Node processes, one PostgreSQL, one
// Redis).
import {
  type Instance,
  manyInstancesSkipReason,
  startInstance,
} from '../packages/server/src/test-support/instances.ts'
import { freshDatabase } from '../packages/server/src/test-support/postgres.ts'
import { skipOutsideCi } from '../packages/server/src/test-support/services.ts'
import { EventReader } from '../packages/server/src/test-support/sse.ts'

const ENDS = 250
const USER_AGENT = 'sessionward-bench'

const percentile = (values: number[], p: number) =>
  [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(values.length * p))] ?? 0

async function post(instance: Instance, path: string, token?: string, body?: unknown) {
  return fetch(`${instance.url}${path}`, {
    method: 'POST',
    headers: {
      'user-agent': USER_AGENT,
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body ? { 'content-type': 'application/json' } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  })
}

/** One end: a session made on A, listened to on B, logged out on A; the times it took. */
async function measureEnd(a: Instance, b: Instance, n: number) {
  const login = await post(a, '/login', undefined, { userId: `bench-${n % 20}` })
  const { token } = (await login.json()) as { token: string }
  const stream = await fetch(`${b.url}/session/events`, {
    headers: { 'user-agent': USER_AGENT, authorization: `Bearer ${token}` },
  })
  const events = new EventReader(stream)
  if ((await events.next())?.event !== 'policy') throw new Error('no policy event from B')
  const sent = performance.now()
  const heard = events.next().then((event) => {
    if (event?.event !== 'ended') throw new Error(`expected ended from B, got ${event?.event}`)
    return performance.now()
  })
  const answer = await post(a, '/session/logout', token)
  const answered = performance.now()
  if (answer.status !== 204) throw new Error(`logout on A answered ${answer.status}`)
  const heardAt = await heard
  return { total: heardAt - sent, afterAnswer: heardAt - answered }
}

/**
 * Two instances on PostgreSQL and Redis; `ENDS` sessions each made on A, listened to on B and
 * ended on A. Reports p50/p99 of the time from the logout request to B's `ended` event, and
 * from A's answer to B's event (negative: B heard it before A's answer arrived).
 *
 * @example
 * const section = await benchCluster() // markdown
 */
export async function benchCluster(): Promise<string> {
  const title = '## Many instances: an end on A heard on B'
  const skip = skipOutsideCi('the many-instance bench', manyInstancesSkipReason)
  if (skip) return `${title}\n\nNot measured: ${skip}.`
  const base = String(process.env.DATABASE_URL)
  const url = await freshDatabase(base, `${new URL(base).pathname.slice(1)}_bench_cluster`)
  const redis = String(process.env.REDIS_URL)
  const a = await startInstance(url, redis)
  const b = await startInstance(url, redis)
  try {
    for (let n = 0; n < 20; n++) await measureEnd(a, b, n) // warm-up
    const total: number[] = []
    const afterAnswer: number[] = []
    for (let n = 0; n < ENDS; n++) {
      const measured = await measureEnd(a, b, n)
      total.push(measured.total)
      afterAnswer.push(measured.afterAnswer)
    }
    const ms = (value: number) => `${value.toFixed(1)} ms`
    return [
      title,
      '',
      `Two ward instances (separate Node processes) on one PostgreSQL and one Redis; ${ENDS} sessions, each signed in on A, listened to on B (\`GET /session/events\`), then logged out on A.`,
      '',
      '| from | p50 | p99 | max |',
      '|---|---:|---:|---:|',
      `| the logout request sent to A → B's \`ended\` event | ${ms(percentile(total, 0.5))} | **${ms(percentile(total, 0.99))}** | ${ms(Math.max(...total))} |`,
      `| A's answer received → B's \`ended\` event | ${ms(percentile(afterAnswer, 0.5))} | ${ms(percentile(afterAnswer, 0.99))} | ${ms(Math.max(...afterAnswer))} |`,
      '',
      `- Target: p99 ≤ 100 ms between two instances. The first row includes A's end transaction in PostgreSQL; the end is published before A answers, so the second row is small and can be negative (B's browser may hear it before A's caller).`,
    ].join('\n')
  } finally {
    await Promise.all([a.stop(), b.stop()])
  }
}
