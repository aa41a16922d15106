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

const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0

/**
 * Requests per second of (a) a bare Hono route, (b) the same route behind
 * `ward.requireSession()` with a valid token (a cache hit) and (c) the same route behind two
 * no-op async middlewares, measured in one run (a b c, a b c, …) with identical requests; the
 * server's CPU time per request; and the SQL statements the ward sends on cache hits.
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
    const login = await fetch(`${control}/login`, {
      method: 'POST',
      headers: { 'user-agent': 'sessionward-bench' },
    })
    const { token } = (await login.json()) as { token: string }
    // Every case gets the same request, token included, so only the server side differs.
    const headers = { 'user-agent': 'sessionward-bench', authorization: `Bearer ${token}` }
    const stats = async () => (await (await fetch(`${control}/stats`)).json()) as Stats
    const measure = async (port: number, seconds = SECONDS): Promise<Sample> => {
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
    const cases = { a: ports.bare, b: ports.guarded, c: ports.noop }
    for (const port of Object.values(cases)) await measure(port, 2) // warm-up: JIT and cache
    const samples: Record<keyof typeof cases, Sample[]> = { a: [], b: [], c: [] }
    const before = await stats()
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, port] of Object.entries(cases) as Array<[keyof typeof cases, number]>) {
        samples[name].push(await measure(port))
      }
    }
    const after = await stats()
    const rps = (name: keyof typeof cases) => median(samples[name].map((s) => s.rps))
    const cpu = (name: keyof typeof cases) => median(samples[name].map((s) => s.cpuPerRequest))
    const p99 = (name: keyof typeof cases) => median(samples[name].map((s) => s.p99))
    const errors = Object.values(samples)
      .flat()
      .reduce((sum, s) => sum + s.errors, 0)
    const guardedRequests = samples.b.reduce((sum, s) => sum + s.requests, 0)
    // The a and c rounds send no SQL at all, so every statement here belongs to the b rounds.
    const reads = after.reads - before.reads
    const writes = after.writes - before.writes
    const row = (name: keyof typeof cases, label: string) =>
      `| ${label} | ${Math.round(rps(name))} | ${cpu(name).toFixed(1)} | ${p99(name)} |`
    return [
      `## Server: what the ward costs per request (${ports.database})`,
      '',
      `${ROUNDS} rounds of ${SECONDS} s per case (a, b, c in turn), ${CONNECTIONS} connections, autocannon against @hono/node-server on 127.0.0.1, identical requests (Bearer token included); medians. Server CPU is the server process's user+system time divided by the requests it served.`,
      '',
      '| case | req/s | server CPU µs/request | p99 latency ms |',
      '|---|---:|---:|---:|',
      row('a', '(a) bare Hono route'),
      row(
        'b',
        '(b) same route behind `ward.middleware()` + `ward.requireSession()`, valid token (cache hit)',
      ),
      row('c', '(c) same route behind two no-op async middlewares (reference)'),
      '',
      `- (b)/(a) req/s: **${((rps('b') / rps('a')) * 100).toFixed(1)}%** (target ≥ 85%); (b)/(c): ${((rps('b') / rps('c')) * 100).toFixed(1)}%`,
      `- Server CPU per request: (b) − (a) = ${(cpu('b') - cpu('a')).toFixed(1)} µs, of which (c) − (a) = ${(cpu('c') - cpu('a')).toFixed(1)} µs is Hono's cost for any async middleware chain`,
      `- SQL statements over ${guardedRequests} measured (b) requests: **${reads} reads, ${writes} writes** — cache hits read nothing; a read happens only when an entry is older than cacheTtl (5 s), a write at most once per touchInterval (60 s)`,
      `- Failed or non-2xx responses: ${errors}`,
    ].join('\n')
  } finally {
    child.kill('SIGTERM')
  }
}
