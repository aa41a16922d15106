import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import autocannon from 'autocannon'

const ROUNDS = 3
const SECONDS = 5
const CONNECTIONS = 50

interface Ports {
  bare: number
  guarded: number
  noop: number
  control: number
  database: string
}

interface Stats {
  reads: number
  writes: number
  cpu: { user: number; system: number }
}

interface Sample {
  rps: number
  p99: number
  cpuPerRequest: number
  errors: number
  requests: number
}

interface Case {
  label: string
  port: number
  headers: Record<string, string>
}

const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0

/**
 * Requests per second and server CPU per request of one route served four ways, measured in
 * one run with cases interleaved (a b c d, a b c d, …): (a) bare Hono, (b) behind
 * `ward.middleware()` + `ward.requireSession()` with a session token (a cache hit), (c) behind
 * two no-op async middlewares (what any middleware costs in Hono), (d) like (b) with a JWT
 * access token; and the SQL statements the ward sends meanwhile.
 *
 * @example
 * const section = await benchServer() // markdown
 */
export async function benchServer(): Promise<string> {
  const child = spawn(process.execPath, ['--conditions=source', 'bench/server-app.ts'], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: process.env,
  })
  try {
    const first = await createInterface({ input: child.stdout })[Symbol.asyncIterator]().next()
    const ports = JSON.parse(String(first.value)) as Ports
    const control = `http://127.0.0.1:${ports.control}`
    const userAgent = 'sessionward-bench'
    const login = await fetch(`${control}/login`, {
      method: 'POST',
      headers: { 'user-agent': userAgent },
    })
    const { token } = (await login.json()) as { token: string }
    const opaque = { 'user-agent': userAgent, authorization: `Bearer ${token}` }
    const exchange = await fetch(`${control}/session/token`, { method: 'POST', headers: opaque })
    const { access } = (await exchange.json()) as { access: string }
    const jwt = { 'user-agent': userAgent, authorization: `Bearer ${access}` }
    // Cases a-c send the identical request (token included): only the server side differs.
    const cases: Record<'a' | 'b' | 'c' | 'd', Case> = {
      a: { label: '(a) bare Hono route', port: ports.bare, headers: opaque },
      b: {
        label:
          '(b) same route behind `ward.middleware()` + `ward.requireSession()`, session token (cache hit)',
        port: ports.guarded,
        headers: opaque,
      },
      c: {
        label: '(c) same route behind two no-op async middlewares (reference)',
        port: ports.noop,
        headers: opaque,
      },
      d: { label: '(d) like (b), HS256 JWT access token', port: ports.guarded, headers: jwt },
    }
    const stats = async () => (await (await fetch(`${control}/stats`)).json()) as Stats
    const measure = async ({ port, headers }: Case, seconds = SECONDS): Promise<Sample> => {
      const before = await stats()
      const result = await autocannon({
        url: `http://127.0.0.1:${port}/resource`,
        headers,
        connections: CONNECTIONS,
        duration: seconds,
      })
      const after = await stats()
      const cpu = after.cpu.user + after.cpu.system - before.cpu.user - before.cpu.system
      const requests = result.requests.total
      return {
        rps: result.requests.average,
        p99: result.latency.p99,
        cpuPerRequest: cpu / Math.max(1, requests),
        errors: result.errors + result.non2xx,
        requests,
      }
    }
    const names = Object.keys(cases) as Array<keyof typeof cases>
    for (const name of names) await measure(cases[name], 2) // warm-up: JIT and caches
    const samples = Object.fromEntries(names.map((name) => [name, [] as Sample[]])) as Record<
      keyof typeof cases,
      Sample[]
    >
    const before = await stats()
    for (let round = 0; round < ROUNDS; round++) {
      for (const name of names) samples[name].push(await measure(cases[name]))
    }
    const after = await stats()
    const rps = (name: keyof typeof cases) => median(samples[name].map((s) => s.rps))
    const cpu = (name: keyof typeof cases) => median(samples[name].map((s) => s.cpuPerRequest))
    const p99 = (name: keyof typeof cases) => median(samples[name].map((s) => s.p99))
    const percentOfBare = (name: keyof typeof cases) =>
      `${((rps(name) / rps('a')) * 100).toFixed(1)}%`
    const errors = Object.values(samples)
      .flat()
      .reduce((sum, s) => sum + s.errors, 0)
    const wardRequests = [...samples.b, ...samples.d].reduce((sum, s) => sum + s.requests, 0)
    // Cases a and c send no SQL at all, so every statement here belongs to b and d.
    const reads = after.reads - before.reads
    const writes = after.writes - before.writes
    return [
      `## Server: what the ward costs per request (${ports.database})`,
      '',
      `${ROUNDS} rounds of ${SECONDS} s per case (a, b, c, d in turn), ${CONNECTIONS} connections, autocannon against @hono/node-server on 127.0.0.1; medians. Server CPU is the server process's user+system time divided by the requests it served.`,
      '',
      '| case | req/s | % of (a) | server CPU µs/request | p99 latency ms |',
      '|---|---:|---:|---:|---:|',
      ...names.map(
        (name) =>
          `| ${cases[name].label} | ${Math.round(rps(name))} | ${percentOfBare(name)} | ${cpu(name).toFixed(1)} | ${p99(name)} |`,
      ),
      '',
      `- (b)/(a) req/s: **${percentOfBare('b')}** (target ≥ 85%); JWT (d)/(a): **${percentOfBare('d')}**`,
      `- Server CPU per request over (a): session token ${(cpu('b') - cpu('a')).toFixed(1)} µs, JWT ${(cpu('d') - cpu('a')).toFixed(1)} µs, of which ${(cpu('c') - cpu('a')).toFixed(1)} µs is Hono's cost for any async middleware chain (c)`,
      `- SQL statements over ${wardRequests} measured (b) and (d) requests: **${reads} reads, ${writes} writes** — cache hits read nothing; a read happens only when an entry is older than cacheTtl (5 s), a write at most once per touchInterval (60 s)`,
      `- Failed or non-2xx responses: ${errors}`,
    ].join('\n')
  } finally {
    child.kill('SIGTERM')
  }
}
