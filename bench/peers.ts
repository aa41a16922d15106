// `npm run bench:peers`: sessionward against the session libraries an app would pick instead,
// in one run on one machine, written to BENCHMARKS.md as its own section (the other sections are
// left as they are). Method, so anyone can rerun it:
//   - each library runs as two instances (two processes, bench/peers-app.ts) on one PostgreSQL
//     and one Redis (DATABASE_URL, REDIS_URL), each on its own framework: Express for
//     express-session + connect-redis, iron-session and better-auth; Hono and Express for
//     sessionward;
//   - throughput: ROUNDS rounds, each measuring every library in turn (a round's drift hits all
//     alike): SECONDS of autocannon with CONNECTIONS connections on instance A's bare route,
//     then on its guarded route with a signed-in cookie. Reported: the guarded route's requests
//     per second as a share of the bare route's in the same round (median), the guarded p99,
//     and the instance's CPU time per guarded request (median);
//   - revocation delay: sign in on A, check B accepts the cookie, log out on A, then ask B every
//     POLL_MS with the old cookie until it refuses (401), up to REVOCATION_LIMIT_S; REVOCATIONS
//     times, the median reported. CPU is the instance's Node process only (not PostgreSQL's or
//     Redis').
import { type ChildProcess, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { createInterface } from 'node:readline'
import autocannon from 'autocannon'
import { freePort, manyInstancesSkipReason } from '../packages/server/src/test-support/instances.ts'
import { replaceSection } from './sections.ts'

const ROUNDS = 5
const SECONDS = 2
const CONNECTIONS = 50
const POLL_MS = 5
const REVOCATION_LIMIT_S = 10
// Revocation is timed this many times per library (a fresh session each), the median reported.
const REVOCATIONS = 3

interface Library {
  key: string
  label: string
  /** The packages whose versions the table names. */
  packages: string[]
  logout: string
  /** How long a copied cookie stays good after logout when the library never asks a store. */
  bound: string
}

const LIBRARIES: Library[] = [
  {
    key: 'express-session',
    label: 'express-session + connect-redis (Express)',
    packages: ['express-session', 'connect-redis', 'redis', 'express'],
    logout: '/logout',
    bound: 'none: every request reads Redis',
  },
  {
    key: 'iron-session',
    label: 'iron-session (Express)',
    packages: ['iron-session', 'express'],
    logout: '/logout',
    bound: 'the sealed cookie is the session: accepted until its ttl (12 h here)',
  },
  {
    key: 'better-auth',
    label: 'better-auth getSession, no cookie cache (Express)',
    packages: ['better-auth', 'pg', 'express'],
    logout: '/logout',
    bound: 'none: every request reads PostgreSQL',
  },
  {
    key: 'better-auth-cache',
    label: 'better-auth getSession, cookie cache 300 s (Express)',
    packages: ['better-auth', 'pg', 'express'],
    logout: '/logout',
    bound: 'the cached session cookie: accepted until its maxAge (300 s here)',
  },
  {
    key: 'sessionward-hono',
    label: 'sessionward (Hono)',
    packages: ['@sessionward/server', 'hono', '@hono/node-server'],
    logout: '/session/logout',
    bound: 'none: an end reaches every instance over Redis',
  },
  {
    key: 'sessionward-express',
    label: 'sessionward (Express)',
    packages: ['@sessionward/server', 'express'],
    logout: '/session/logout',
    bound: 'none: an end reaches every instance over Redis',
  },
]

interface Instance {
  base: string
  child: ChildProcess
}

async function startInstance(key: string): Promise<Instance> {
  const port = await freePort()
  const child = spawn(
    process.execPath,
    ['--conditions=source', 'bench/peers-app.ts', key, String(port)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  )
  const exited = new Promise((resolve) => child.once('exit', resolve))
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream })
  const ready = new Promise<void>((resolve) => lines.on('line', (l) => l === 'ready' && resolve()))
  const outcome = await Promise.race([ready.then(() => 'ready'), exited.then(() => 'exited')])
  if (outcome !== 'ready') throw new Error(`${key} exited before it was ready`)
  return { base: `http://127.0.0.1:${port}`, child }
}

/** Signs in on an instance and gives the session's Cookie header. */
async function signIn(base: string): Promise<string> {
  const answer = await fetch(`${base}/login`, {
    method: 'POST',
    headers: { origin: base, 'content-type': 'application/json' },
    body: '{}',
  })
  if (!answer.ok) throw new Error(`${base}/login answered ${answer.status}`)
  const cookie = answer.headers
    .getSetCookie()
    .map((line) => line.split(';')[0])
    .join('; ')
  if (!cookie) throw new Error(`${base}/login set no cookie`)
  return cookie
}

async function cpuMicros(base: string): Promise<number> {
  return ((await (await fetch(`${base}/cpu`)).json()) as { micros: number }).micros
}

interface Sample {
  rps: number
  p99: number
  requests: number
  non2xx: number
}

async function load(url: string, headers: Record<string, string>): Promise<Sample> {
  const result = await autocannon({ url, connections: CONNECTIONS, duration: SECONDS, headers })
  return {
    rps: result.requests.average,
    p99: result.latency.p99,
    requests: result.requests.total,
    non2xx: result.non2xx,
  }
}

/** From logout on A to the first refusal on B (ms), or null if B still accepts at the limit. */
async function revocationDelay(library: Library, a: string, b: string): Promise<number | null> {
  const cookie = await signIn(a)
  const accepted = await fetch(`${b}/guarded`, { headers: { cookie } })
  if (accepted.status !== 200) throw new Error(`${library.key}: B refused a live session`)
  const started = performance.now()
  const logout = await fetch(`${a}${library.logout}`, {
    method: 'POST',
    headers: { cookie, origin: a },
  })
  if (logout.status >= 300) throw new Error(`${library.key}: logout answered ${logout.status}`)
  while (performance.now() - started < REVOCATION_LIMIT_S * 1000) {
    const answer = await fetch(`${b}/guarded`, { headers: { cookie } })
    await answer.arrayBuffer()
    if (answer.status === 401) return performance.now() - started
    await new Promise((resolve) => setTimeout(resolve, POLL_MS))
  }
  return null
}

const median = (values: number[]) =>
  [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)] ?? 0

/** The installed version (its package.json, read as a file: some packages do not export it). */
function version(name: string): string {
  const file = new URL(`../node_modules/${name}/package.json`, import.meta.url)
  return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version
}

async function main(): Promise<void> {
  if (manyInstancesSkipReason) {
    throw new Error(`bench:peers needs PostgreSQL and Redis: ${manyInstancesSkipReason}`)
  }
  // Read first: a package missing fails the run before any measurement.
  const versions = new Map(
    LIBRARIES.map((library) => [
      library.key,
      library.packages.map((name) => `${name} ${version(name)}`).join(', '),
    ]),
  )
  const instances = new Map<string, [Instance, Instance]>()
  try {
    for (const library of LIBRARIES) {
      // One after the other: the first migrates, the second finds the schema current.
      const a = await startInstance(library.key)
      const b = await startInstance(library.key)
      instances.set(library.key, [a, b])
    }
    const cookies = new Map<string, string>()
    for (const library of LIBRARIES) {
      const [a] = instances.get(library.key) ?? []
      if (a) cookies.set(library.key, await signIn(a.base))
    }
    const shares = new Map<string, number[]>()
    const p99s = new Map<string, number[]>()
    const cpuPerRequest = new Map<string, number[]>()
    for (let round = 1; round <= ROUNDS; round++) {
      for (const library of LIBRARIES) {
        const [a] = instances.get(library.key) ?? []
        if (!a) continue
        const bare = await load(`${a.base}/bare`, {})
        const before = await cpuMicros(a.base)
        const guarded = await load(`${a.base}/guarded`, { cookie: cookies.get(library.key) ?? '' })
        const used = (await cpuMicros(a.base)) - before
        if (guarded.non2xx > 0) throw new Error(`${library.key}: ${guarded.non2xx} refusals`)
        const push = (map: Map<string, number[]>, value: number) =>
          map.set(library.key, [...(map.get(library.key) ?? []), value])
        push(shares, guarded.rps / bare.rps)
        push(p99s, guarded.p99)
        push(cpuPerRequest, used / guarded.requests)
        console.error(
          `round ${round} ${library.key}: bare ${bare.rps.toFixed(0)} rps, guarded ${guarded.rps.toFixed(0)} rps`,
        )
      }
    }
    const rows: string[] = []
    for (const library of LIBRARIES) {
      const [a, b] = instances.get(library.key) ?? []
      if (!a || !b) continue
      const delays: (number | null)[] = []
      for (let time = 0; time < REVOCATIONS; time++) {
        delays.push(await revocationDelay(library, a.base, b.base))
      }
      // A refusal never seen counts as the longest.
      const seen = delays.filter((delay) => delay !== null)
      const delay = seen.length * 2 > delays.length ? median(seen) : null
      const revoked =
        delay === null
          ? `still accepted after ${REVOCATION_LIMIT_S} s: ${library.bound}`
          : `${delay.toFixed(0)} ms (median of ${REVOCATIONS})`
      rows.push(
        `| ${library.label} | ${(median(shares.get(library.key) ?? []) * 100).toFixed(1)}% | ${median(p99s.get(library.key) ?? []).toFixed(0)} ms | ${median(cpuPerRequest.get(library.key) ?? []).toFixed(1)} µs | ${revoked} | ${versions.get(library.key)} |`,
      )
    }
    const section = [
      '## Peers: sessionward against the session libraries an app would pick instead (`npm run bench:peers`)',
      '',
      `Measured on ${new Date().toISOString().slice(0, 10)}: Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model.trim() ?? 'unknown CPU'}; PostgreSQL and Redis on the same machine. Method: bench/peers.ts (its opening comment). ${ROUNDS} rounds of ${SECONDS} s per route with ${CONNECTIONS} connections, libraries alternating within each round; each library runs as two instances (processes) on the same stores.`,
      '',
      '| library | guarded rps, share of its bare route | guarded p99 | CPU per guarded request (the instance) | revocation delay (logout on A → first refusal on B) | versions |',
      '|---|---|---|---|---|---|',
      ...rows,
    ].join('\n')
    replaceSection(section)
    console.log(section)
  } finally {
    for (const pair of instances.values()) for (const instance of pair) instance.child.kill()
  }
}

await main()
