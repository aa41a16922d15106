import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import autocannon from 'autocannon'

const ROUNDS = 3
const SECONDS = 5
const CONNECTIONS = 50

interface Ports {
  bare: number
  guarded: number
  control: number
  database: string
}

interface Sample {
  rps: number
  p99: number
  cpuPerRequest: number
  errors: number
}

const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0

/**
 * Requests per second of (a) a bare Hono route and (b) the same route behind
 * `ward.middleware()` + `ward.requireSession()` authenticated by a JWT access token (signature
 * and claims verified, then the session found live in the process cache), with (c) the opaque
 * session token for reference; cases interleaved (a b c, a b c, …) in one run.
 *
 * @example
 * const section = await benchJwt() // markdown
 */
export async function benchJwt(): Promise<string> {
  const child = spawn(process.execPath, ['--conditions=source', 'bench/jwt-app.ts'], {
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
    const exchange = await fetch(`${control}/session/token`, {
      method: 'POST',
      headers: { 'user-agent': userAgent, authorization: `Bearer ${token}` },
    })
    const { access } = (await exchange.json()) as { access: string }
    const jwtHeaders = { 'user-agent': userAgent, authorization: `Bearer ${access}` }
    const tokenHeaders = { 'user-agent': userAgent, authorization: `Bearer ${token}` }
    const cpu = async () =>
      (await (await fetch(`${control}/cpu`)).json()) as { user: number; system: number }
    const measure = async (
      port: number,
      headers: Record<string, string>,
      seconds = SECONDS,
    ): Promise<Sample> => {
      const before = await cpu()
      const result = await autocannon({
        url: `http://127.0.0.1:${port}/resource`,
        headers,
        connections: CONNECTIONS,
        duration: seconds,
      })
      const after = await cpu()
      const used = after.user + after.system - before.user - before.system
      return {
        rps: result.requests.average,
        p99: result.latency.p99,
        cpuPerRequest: used / Math.max(1, result.requests.total),
        errors: result.errors + result.non2xx,
      }
    }
    // (a) gets the JWT header too: identical requests, only the server side differs.
    const cases = {
      a: [ports.bare, jwtHeaders],
      b: [ports.guarded, jwtHeaders],
      c: [ports.guarded, tokenHeaders],
    } as const
    for (const [port, headers] of Object.values(cases)) await measure(port, headers, 2)
    const samples: Record<keyof typeof cases, Sample[]> = { a: [], b: [], c: [] }
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, [port, headers]] of Object.entries(cases) as Array<
        [keyof typeof cases, (typeof cases)[keyof typeof cases]]
      >) {
        samples[name].push(await measure(port, headers))
      }
    }
    const rps = (name: keyof typeof cases) => median(samples[name].map((s) => s.rps))
    const cpuUs = (name: keyof typeof cases) => median(samples[name].map((s) => s.cpuPerRequest))
    const p99 = (name: keyof typeof cases) => median(samples[name].map((s) => s.p99))
    const errors = Object.values(samples)
      .flat()
      .reduce((sum, s) => sum + s.errors, 0)
    const row = (name: keyof typeof cases, label: string) =>
      `| ${label} | ${Math.round(rps(name))} | ${cpuUs(name).toFixed(1)} | ${p99(name)} |`
    return [
      `## Server: JWT access tokens (${ports.database})`,
      '',
      `${ROUNDS} rounds of ${SECONDS} s per case (a, b, c in turn), ${CONNECTIONS} connections, autocannon against @hono/node-server on 127.0.0.1; medians. HS256 access token; the session stays in the process cache (a read every cacheTtl, 5 s).`,
      '',
      '| case | req/s | server CPU µs/request | p99 latency ms |',
      '|---|---:|---:|---:|',
      row('a', '(a) bare Hono route (same request, JWT header ignored)'),
      row('b', '(b) same route behind `ward.middleware()` + `ward.requireSession()`, JWT'),
      row('c', '(c) same guarded route, opaque session token (reference)'),
      '',
      `- (b)/(a) req/s: **${((rps('b') / rps('a')) * 100).toFixed(1)}%**; (c)/(a): ${((rps('c') / rps('a')) * 100).toFixed(1)}%`,
      `- JWT verification and session lookup cost (b) − (a) = ${(cpuUs('b') - cpuUs('a')).toFixed(1)} µs of server CPU per request; the opaque token ${(cpuUs('c') - cpuUs('a')).toFixed(1)} µs`,
      `- Failed or non-2xx responses: ${errors}`,
    ].join('\n')
  } finally {
    child.kill('SIGTERM')
  }
}
