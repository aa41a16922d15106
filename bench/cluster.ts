// `npm run bench`, many instances: how long an end made on one ward instance takes to reach a
// browser's `/session/events` stream held on another (separate Node processes on one
// PostgreSQL), through Redis, through the PostgreSQL bus, and with no bus at all (cacheTtl).
// On its own: `npm run bench -- propagation`.
import { cpus, loadavg } from 'node:os'
import type { WardOptions } from '../packages/server/src/options.ts'
import {
  type Instance,
  manyInstancesSkipReason,
  startInstance,
} from '../packages/server/src/test-support/instances.ts'
import { freshDatabase } from '../packages/server/src/test-support/postgres.ts'
import { skipOutsideCi } from '../packages/server/src/test-support/services.ts'
import { EventReader } from '../packages/server/src/test-support/sse.ts'

const ENDS = 250
const WARM_UP = 20
// Without a bus every end waits for cacheTtl: these are measured side by side, not in turn.
const ENDS_WITHOUT_BUS = 40
// How often the page on B asks B about its session without a bus (what a polling client does).
const POLL_EVERY = 50
const USER_AGENT = 'sessionward-bench'

const percentile = (values: number[], p: number) =>
  [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(values.length * p))] ?? 0

async function request(
  instance: Instance,
  method: string,
  path: string,
  token?: string,
  body?: unknown,
) {
  return fetch(`${instance.url}${path}`, {
    method,
    headers: {
      'user-agent': USER_AGENT,
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body ? { 'content-type': 'application/json' } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  })
}

/** A stream of `/session/events` on `instance`, past its first (`policy`) event. */
async function streamOn(instance: Instance, token: string): Promise<EventReader> {
  const events = new EventReader(await request(instance, 'GET', '/session/events', token))
  if ((await events.next())?.event !== 'policy') throw new Error('no policy event')
  return events
}

/** When (performance.now()) the stream hears `ended`. */
async function heardEnd(events: EventReader): Promise<number> {
  const event = await events.next()
  if (event?.event !== 'ended') throw new Error(`expected ended, got ${event?.event}`)
  return performance.now()
}

/**
 * One end: a session made on A, listened to on each of `others`, logged out on A; ms from the
 * logout request to the last of the others' `ended` events. `poll`: the others are also asked
 * about the session every POLL_EVERY ms (without a bus nothing else would tell them).
 */
async function measureEnd(a: Instance, others: Instance[], n: number, poll = false) {
  const login = await request(a, 'POST', '/login', undefined, { userId: `bench-${n % 20}` })
  const { token } = (await login.json()) as { token: string }
  const streams = await Promise.all(others.map((other) => streamOn(other, token)))
  const sent = performance.now()
  const heard = Promise.all(streams.map(heardEnd))
  let polling = poll
  const polls = others.map(async (other) => {
    while (polling) {
      await request(other, 'GET', '/api/poll', token)
      await new Promise((resolve) => setTimeout(resolve, POLL_EVERY))
    }
  })
  const answer = await request(a, 'POST', '/session/logout', token)
  if (answer.status !== 204) throw new Error(`logout on A answered ${answer.status}`)
  const last = Math.max(...(await heard))
  polling = false
  await Promise.all(polls)
  return last - sent
}

/** A row of the table: p50, p99 and max of `values` (ms). */
function row(label: string, values: number[]): string {
  const ms = (value: number) =>
    value >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${value.toFixed(1)} ms`
  return `| ${label} | ${values.length} | ${ms(percentile(values, 0.5))} | **${ms(percentile(values, 0.99))}** | ${ms(Math.max(...values))} |`
}

/** `count` instances on `url` with `redis` (or none) and `options`. */
function instances(
  url: string,
  redis: string | null,
  options: WardOptions,
  count: number,
): Promise<Instance[]> {
  return Promise.all(Array.from({ length: count }, () => startInstance(url, redis, options)))
}

/**
 * ENDS ends made on the first instance of each group and heard on the group's others, the
 * groups taking turns end by end (after a warm-up), so that whatever else loads the machine
 * weighs on each the same.
 */
async function inTurns(groups: Instance[][]): Promise<number[][]> {
  const times = groups.map((): number[] => [])
  for (let n = 0; n < WARM_UP + ENDS; n++) {
    for (const [g, [a, ...others]] of groups.entries()) {
      const time = await measureEnd(a as Instance, others, n)
      if (n >= WARM_UP) times[g]?.push(time)
    }
  }
  return times
}

/**
 * End propagation between instances, one run: Redis, the PostgreSQL bus (two and three
 * instances), and no bus. Reports p50/p99/max from the logout request sent to A to the other
 * instance's `ended` event.
 *
 * @example
 * const section = await benchCluster() // markdown
 */
export async function benchCluster(): Promise<string> {
  const title = '## Many instances: end propagation through Redis, the PostgreSQL bus, and no bus'
  const skip = skipOutsideCi('the many-instance bench', manyInstancesSkipReason)
  if (skip) return `${title}\n\nNot measured: ${skip}.`
  const base = String(process.env.DATABASE_URL)
  // A database per setup: NOTIFY reaches every listener of its database, and one setup's ends
  // must not wake the others' instances.
  const database = (setup: string) =>
    freshDatabase(base, `${new URL(base).pathname.slice(1)}_bench_cluster_${setup}`)
  const groups = await Promise.all([
    database('redis').then((url) => instances(url, String(process.env.REDIS_URL), {}, 2)),
    database('pg2').then((url) => instances(url, null, { bus: 'postgres' }, 2)),
    database('pg3').then((url) => instances(url, null, { bus: 'postgres' }, 3)),
  ])
  const cacheTtl = 5
  const withoutBus = await instances(await database('none'), null, { cacheTtl }, 2)
  try {
    const [redis = [], postgres = [], postgresThree = []] = await inTurns(groups)
    // The machine may be shared: how busy it was says how far these figures are its own.
    const load = loadavg()[0] ?? 0
    const [a, b] = withoutBus as [Instance, Instance]
    const none = await Promise.all(
      Array.from({ length: ENDS_WITHOUT_BUS }, (_, n) => measureEnd(a, [b], n, true)),
    )
    return section(title, { redis, postgres, postgresThree, none }, cacheTtl, load)
  } finally {
    await Promise.all([...groups.flat(), ...withoutBus].map((instance) => instance.stop()))
  }
}

/** The markdown section: the table and what it means. */
function section(
  title: string,
  times: Record<string, number[]>,
  cacheTtl: number,
  load: number,
): string {
  const { redis = [], postgres = [], postgresThree = [], none = [] } = times
  return [
    title,
    '',
    `Ward instances as separate Node processes on one PostgreSQL. Each session is signed in on A, listened to on the others (\`GET /session/events\`, as a browser's leader tab does), then logged out on A; measured from the logout request sent to A to the \`ended\` event on the other instance (the last of them, with three). One run: the three bus setups run at once and take turns end by end (so the machine's other load weighs on each alike), after ${WARM_UP} ends of warm-up each. Load average (1 min) after the bus runs: ${load.toFixed(1)} on ${cpus().length} cores.`,
    '',
    '| bus | ends | p50 | p99 | max |',
    '|---|---:|---:|---:|---:|',
    row('Redis (`redis`), A → B', redis),
    row("PostgreSQL (`bus: 'postgres'`), A → B", postgres),
    row("PostgreSQL (`bus: 'postgres'`), A → B and C", postgresThree),
    row(`none (\`cacheTtl: ${cacheTtl}\`), A → B`, none),
    '',
    `- Target: p99 ≤ 100 ms through either bus. Both include A's end transaction in PostgreSQL: Redis publishes once it committed, PostgreSQL delivers the NOTIFY sent inside it when it commits.`,
    `- Without a bus, B learns of the end only when it reads the row again, once its cached entry is \`cacheTtl\` old; nothing tells its stream, so here B is also asked about the session every ${POLL_EVERY} ms (as a polling page would), ${ENDS_WITHOUT_BUS} sessions side by side. The bound is cacheTtl from B's last read of the row, whatever the load.`,
  ].join('\n')
}
