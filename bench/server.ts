import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { generateToken } from '@sessionward/server'
import autocannon from 'autocannon'
import { redisSkipReason } from '../packages/server/src/test-support/instances.ts'
import { skipOutsideCi } from '../packages/server/src/test-support/services.ts'

// Short rounds, many of them, with every case in each: a drift in the machine's speed hits all
// cases of a round alike, and each ratio is taken within its round.
const ROUNDS = 9
const SECONDS = 2
const CONNECTIONS = 50

interface Ports {
  bare: number
  guarded: number
  layered: number
  noop: number
  hashed: number
  control: number
  /** (g)'s port; 0 without a Redis that answers. */
  guardedRedis: number
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

// The repeated-unknown-token case: this many distinct well-shaped tokens nobody issued, sent
// round-robin in groups (each token of a group this many times before the next group starts),
// so a token comes back well within the session cache's 5 s memory of a miss however slow the
// first reads are.
const UNKNOWN_TOKENS = 1000
const UNKNOWN_GROUP = 100
const UNKNOWN_PASSES = 5

/** What the repeated-unknown-token case saw. */
interface UnknownTokens {
  tokens: number
  requests: number
  /** Requests answered 401, as every one should be. */
  refused: number
  reads: number
  seconds: number
}

const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0

/**
 * Sends `UNKNOWN_TOKENS` distinct unknown tokens, `UNKNOWN_PASSES` times each round-robin in
 * groups of `UNKNOWN_GROUP`, to the route behind `requireSession()` and counts the SQL reads
 * meanwhile: the session cache remembers a miss, so each distinct token should cost one read,
 * however often it comes back.
 *
 * @example
 * const { reads, tokens } = await measureUnknownTokens(ports.guarded, stats, 'sessionward-bench')
 */
export async function measureUnknownTokens(
  port: number,
  stats: () => Promise<Stats>,
  userAgent: string,
): Promise<UnknownTokens> {
  const tokens = Array.from({ length: UNKNOWN_TOKENS }, generateToken)
  const groupRequests = UNKNOWN_GROUP * UNKNOWN_PASSES
  // Request n: group ⌊n / groupRequests⌋, and within it the tokens in turn.
  const tokenFor = (n: number) =>
    tokens[Math.floor(n / groupRequests) * UNKNOWN_GROUP + ((n % groupRequests) % UNKNOWN_GROUP)]
  let next = 0
  const requests = UNKNOWN_TOKENS * UNKNOWN_PASSES
  const before = await stats()
  const started = performance.now()
  const result = await autocannon({
    url: `http://127.0.0.1:${port}/resource`,
    connections: CONNECTIONS,
    amount: requests,
    requests: [
      {
        setupRequest: (request) => {
          const token = tokenFor(next++)
          return {
            ...request,
            headers: { 'user-agent': userAgent, authorization: `Bearer ${token}` },
          }
        },
      },
    ],
  })
  const seconds = (performance.now() - started) / 1000
  const after = await stats()
  return {
    tokens: tokens.length,
    requests: result.requests.total,
    refused: result.statusCodeStats?.['401']?.count ?? 0,
    reads: after.reads - before.reads,
    seconds,
  }
}

// The in-process measure: the cases take turns, IN_PROCESS_ROUNDS rounds of IN_PROCESS_BATCH
// requests each, so a drift of the machine's speed meets every case alike within a round.
const IN_PROCESS_ROUNDS = 200
const IN_PROCESS_BATCH = 200

/** CPU µs per request of cases a–f in the server process, per round (in-process.ts). */
type InProcess = Record<'a' | 'b' | 'c' | 'd' | 'e' | 'f' | 'k', number[]>

// Measured in process only: a browser app's request, the session token in its cookie.
const COOKIE_CASE =
  "(k) like (b), the token in the session cookie among others, as a browser's GET sends it"

/**
 * Runs the in-process measure in the bench server (its `/in-process` control route) with the
 * raw header lines autocannon sends: the session token for every case but (d), the JWT for (d);
 * and (k), the session token in a Cookie line among other cookies instead of Authorization.
 */
async function measureInProcess(
  control: string,
  userAgent: string,
  token: string,
  access: string,
): Promise<InProcess> {
  const lines = (credential: string) => [
    'host',
    '127.0.0.1',
    'user-agent',
    userAgent,
    'authorization',
    `Bearer ${credential}`,
    'connection',
    'keep-alive',
  ]
  const answer = await fetch(`${control}/in-process`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      opaque: lines(token),
      jwt: lines(access),
      cookie: [
        'host',
        '127.0.0.1',
        'user-agent',
        userAgent,
        'cookie',
        `theme=dark; __Host-sessionward=${token}; consent=1`,
        'connection',
        'keep-alive',
      ],
      rounds: IN_PROCESS_ROUNDS,
      batch: IN_PROCESS_BATCH,
    }),
  })
  return (await answer.json()) as InProcess
}

/** The in-process table and the cache hit's line against the hashing floor. */
function inProcessLines(figures: InProcess, cases: Record<string, Case>): string[] {
  const names = ['a', 'b', 'k', 'c', 'd', 'e', 'f'] as const
  // Per round: requests per CPU second of `name`, % of `base`'s (the inverse ratio of CPU).
  const versus = (name: (typeof names)[number], base: (typeof names)[number]) =>
    figures[name].map((cpu, round) => ((figures[base][round] ?? Number.NaN) / cpu) * 100)
  const hit = versus('b', 'f')
  const above = hit.filter((value) => value >= 100).length
  const quartile = (values: number[], q: number) =>
    [...values].sort((x, y) => x - y)[Math.floor((values.length - 1) * q)] ?? 0
  return [
    '',
    `### In process: server CPU per request without sockets`,
    '',
    `@hono/node-server's request listener fed Node request and response objects in the server process (bench/in-process.ts): the adapter, Hono and the middleware, without the kernel, the HTTP parser or the load generator, which cost every case alike and bring most of the noise to the socket rounds on a shared machine. ${IN_PROCESS_ROUNDS} rounds of ${IN_PROCESS_BATCH} sequential requests per case, the cases in turn in each round; medians over the rounds.`,
    '',
    '| case | server CPU µs/request | requests per CPU second, % of (a) |',
    '|---|---:|---:|',
    ...names.map(
      (name) =>
        `| ${name === 'k' ? COOKIE_CASE : (cases[name]?.label ?? name)} | ${median(figures[name]).toFixed(2)} | ${median(versus(name, 'a')).toFixed(1)}% |`,
    ),
    '',
    `- **Cache hit (b) against the hashing floor (f), in process: (b)'s requests per CPU second are ${median(hit).toFixed(1)}% of (f)'s** (target ≥ 100%; quartiles ${quartile(hit, 0.25).toFixed(1)}–${quartile(hit, 0.75).toFixed(1)}%, at or above in ${above} of ${hit.length} rounds); (b) − (f): ${(median(figures.b) - median(figures.f)).toFixed(2)} µs`,
  ]
}

/**
 * Requests per second and server CPU per request of one route served six ways, measured in
 * one run with cases interleaved (a b c d e f, a b c d e f, …): (a) bare Hono, (b) behind
 * `ward.requireSession()` with a session token (a cache hit), (c) behind `ward.middleware()` +
 * `ward.requireSession()`, (d) like (b) with a JWT access token, and two references: (e) one
 * no-op async middleware (what any middleware costs in Hono), (f) one middleware that only
 * hashes the Authorization header (what any check of a hashed token costs); and the SQL
 * statements the ward sends meanwhile. Then the repeated-unknown-token case: the reads per
 * distinct token (`measureUnknownTokens`).
 *
 * @example
 * const section = await benchServer() // markdown
 */
export async function benchServer(): Promise<string> {
  const redisSkip = skipOutsideCi('bench case (g), the ward with Redis', redisSkipReason)
  // server-app.ts serves (g) only with a REDIS_URL: a dead one is left out, as an unset one.
  const child = spawn(process.execPath, ['--conditions=source', 'bench/server-app.ts'], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: redisSkip ? { ...process.env, REDIS_URL: '' } : process.env,
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
    // Every case but (d) sends the identical request (token included): only the server differs.
    const cases: Record<'a' | 'b' | 'c' | 'd' | 'e' | 'f' | 'g', Case> = {
      a: { label: '(a) bare Hono route', port: ports.bare, headers: opaque },
      b: {
        label: '(b) same route behind `ward.requireSession()`, session token (cache hit)',
        port: ports.guarded,
        headers: opaque,
      },
      c: {
        label: '(c) same route behind `ward.middleware()` + `ward.requireSession()`',
        port: ports.layered,
        headers: opaque,
      },
      d: { label: '(d) like (b), HS256 JWT access token', port: ports.guarded, headers: jwt },
      e: {
        label: '(e) reference: one no-op async middleware',
        port: ports.noop,
        headers: opaque,
      },
      f: {
        label:
          '(f) reference: one async middleware that only takes the SHA-256 of the Authorization header',
        port: ports.hashed,
        headers: opaque,
      },
      g: {
        label: '(g) like (b), the ward with the Redis channel on (`redis` option)',
        port: ports.guardedRedis,
        headers: opaque,
      },
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
    // (f) right after (b) and (g) right after (f) (only when the bench has a Redis, REDIS_URL):
    // the pairs compared directly are measured next to each other in every round.
    const names = (['a', 'b', 'f', 'g', 'c', 'd', 'e'] as const).filter(
      (name) => cases[name].port !== 0,
    )
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
    const unknown = await measureUnknownTokens(ports.guarded, stats, userAgent)
    const inProcess = await measureInProcess(control, userAgent, token, access)
    const rps = (name: keyof typeof cases) => median(samples[name].map((s) => s.rps))
    const cpu = (name: keyof typeof cases) => median(samples[name].map((s) => s.cpuPerRequest))
    const p99 = (name: keyof typeof cases) => median(samples[name].map((s) => s.p99))
    // Per round: this case's req/s over (a)'s in the same round; the median of those, and the range.
    const ratios = (name: keyof typeof cases) =>
      samples[name].map((s, round) => (s.rps / (samples.a[round]?.rps ?? Number.NaN)) * 100)
    const percentOfBare = (name: keyof typeof cases) => `${median(ratios(name)).toFixed(1)}%`
    const spread = (name: keyof typeof cases) => {
      const values = ratios(name)
      return `${Math.min(...values).toFixed(0)}–${Math.max(...values).toFixed(0)}%`
    }
    const over = (name: keyof typeof cases) => (cpu(name) - cpu('a')).toFixed(1)
    // Per round: one case's req/s over another's measured next to it, and their CPU difference.
    const paired = (name: keyof typeof cases, base: keyof typeof cases) =>
      samples[name].map((s, round) => (s.rps / (samples[base][round]?.rps ?? Number.NaN)) * 100)
    const floorLine = () => {
      const values = paired('b', 'f')
      const cpuOver = median(
        samples.b.map(
          (s, round) => s.cpuPerRequest - (samples.f[round]?.cpuPerRequest ?? Number.NaN),
        ),
      )
      const above = values.filter((value) => value >= 100).length
      return `- Cache hit (b) against the hashing floor (f), measured next to each other in each round: (b)/(f) req/s median **${median(values).toFixed(1)}%** (target ≥ 100%; range ${Math.min(...values).toFixed(0)}–${Math.max(...values).toFixed(0)}%, at or above in ${above} of ${values.length} rounds); server CPU per request (b) − (f), median over rounds: ${cpuOver.toFixed(1)} µs`
    }
    const redisLine = () => {
      if (!names.includes('g')) return `- (g), the ward with Redis: not measured (${redisSkip})`
      const points = median(ratios('g')) - median(ratios('b'))
      const direct = median(paired('g', 'b'))
      return `- Redis on (g) vs off (b), cache hits: ${percentOfBare('g')} vs ${percentOfBare('b')} of (a), **${points >= 0 ? '+' : ''}${points.toFixed(1)} points** (target: within 3); (g)/(b) in the same round, median ${direct.toFixed(1)}% — a cache hit makes no Redis round trip; activity is published at most once a second per session, in batches`
    }
    const errors = Object.values(samples)
      .flat()
      .reduce((sum, s) => sum + s.errors, 0)
    const wardRequests = [...samples.b, ...samples.c, ...samples.d, ...(samples.g ?? [])].reduce(
      (sum, s) => sum + s.requests,
      0,
    )
    // Cases a, e and f send no SQL at all, so every statement here belongs to b, c, d and g.
    const reads = after.reads - before.reads
    const writes = after.writes - before.writes
    return [
      `## Server: what the ward costs per request (${ports.database})`,
      '',
      `${ROUNDS} rounds of ${SECONDS} s per case (${names.join(' ')} in turn in each round), ${CONNECTIONS} connections, autocannon against @hono/node-server on 127.0.0.1. req/s, CPU and p99 are medians over the rounds; "% of (a)" is the median over the rounds of the case's req/s divided by (a)'s in the same round. Server CPU is the server process's user+system time divided by the requests it served.`,
      '',
      '| case | req/s | % of (a) | % of (a), range over rounds | server CPU µs/request | p99 latency ms |',
      '|---|---:|---:|---:|---:|---:|',
      ...names.map(
        (name) =>
          `| ${cases[name].label} | ${Math.round(rps(name))} | ${percentOfBare(name)} | ${spread(name)} | ${cpu(name).toFixed(1)} | ${p99(name)} |`,
      ),
      '',
      `- (b)/(a) req/s: **${percentOfBare('b')}** (target ≥ 85%); with \`middleware()\` too (c)/(a): ${percentOfBare('c')}; JWT (d)/(a): ${percentOfBare('d')}`,
      `- The references bound what any such check can reach: a no-op async middleware (e) ${percentOfBare('e')}, hashing the Authorization header and nothing else (f) ${percentOfBare('f')}`,
      floorLine(),
      `- Server CPU per request over (a): (b) ${over('b')} µs, (c) ${over('c')} µs, (d) ${over('d')} µs; (e) ${over('e')} µs, (f) ${over('f')} µs`,
      redisLine(),
      ...inProcessLines(inProcess, cases),
      `- SQL statements over ${wardRequests} measured (b), (c), (d) and (g) requests: **${reads} reads, ${writes} writes** — cache hits read nothing; a read happens only when an entry is older than cacheTtl (5 s), a write at most once per touchInterval (60 s)`,
      `- Repeated unknown tokens: ${unknown.tokens} distinct well-shaped tokens nobody issued, sent ${UNKNOWN_PASSES} times each round-robin in groups of ${UNKNOWN_GROUP} (${unknown.requests} requests in ${unknown.seconds.toFixed(1)} s, ${unknown.refused} answered 401) to (b)'s route: **${unknown.reads} reads, ${(unknown.reads / unknown.tokens).toFixed(2)} per distinct token** — the session cache remembers a miss for 5 s, so a token seen again costs no read`,
      `- Failed or non-2xx responses: ${errors}`,
    ].join('\n')
  } finally {
    child.kill('SIGTERM')
  }
}
