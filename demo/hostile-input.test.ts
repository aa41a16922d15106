// The hostile-input suite (issue 14): fast-check generates requests over every route of the
// demo and of the ward's mounts inside it (plus a host app whose ward has JWTs, rotation and
// known devices on), with real sessions mixed in, and checks each answer and log line against
// the contract:
// no answer >= 500, JSON errors under the ward's mounts (and the demo's /api), no token or
// 64-hex digest in any answer it was not asked for or in any log line, nothing slower than
// a bound derived from storeTimeout, nothing logged at error level. FUZZ_SEED replays a run,
// FUZZ_RUNS changes its size. See docs/security.md, "Hostile input suite".
import { execFileSync } from 'node:child_process'
import { randomInt, randomUUID } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { serve } from '@hono/node-server'
import { createWard, type Ward, type WardEnv } from '@sessionward/server'
import fc from 'fast-check'
import { Hono } from 'hono'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { CAEP_SESSION_REVOKED, RISC_ACCOUNT_DISABLED } from '../packages/server/src/idp-tokens.ts'
import { resolveOptions } from '../packages/server/src/options.ts'
import {
  AUDIENCE,
  startTestProvider,
  type TestProvider,
} from '../packages/server/src/test-support/identity-provider.ts'
import { redisSkipReason } from '../packages/server/src/test-support/instances.ts'
import { findLeaks, logLine, maskLeaks } from '../packages/server/src/test-support/leaks.ts'
import { freshDatabase, postgresSkipReason } from '../packages/server/src/test-support/postgres.ts'
import { rawRequest } from '../packages/server/src/test-support/raw-http.ts'
import { createDemoApp, type DemoApp } from './app.ts'
import {
  type Answer,
  answerProblem,
  fromRaw,
  isParserAnswer,
  routedPath,
  shortJson,
} from './test-support/hostile-checks.ts'
import { type HostileRequest, hostileRequest, USER_AGENT } from './test-support/hostile-requests.ts'
import {
  asFetchRequest,
  asRawBytes,
  headerList,
  type Pool,
  pathOf,
  withIdpToken,
} from './test-support/hostile-wire.ts'

const RUNS = Number(process.env.FUZZ_RUNS ?? 10_000)
const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : randomInt(2 ** 31)
/** Set, a run reports every broken request instead of stopping at the first (for fixing). */
const KEEP_GOING = process.env.FUZZ_KEEP_GOING === '1'
/** The storeTimeout (seconds) of the wards here, the default: each store call is bounded by it. */
const STORE_TIMEOUT = resolveOptions({}).storeTimeout
// A healthy request makes its store calls in far less than one storeTimeout; twice it fails only
// a hang, never a slow request on a loaded machine.
const BOUND_MS = 2 * STORE_TIMEOUT * 1000
/** One request in ten goes over a raw socket (binary headers, duplicates, broken framing). */
const SOCKET_SHARE = 0.1
/** The pool of real sessions is renewed this often, as fuzzed logouts and revokes end them. */
const REFILL_EVERY = 50
const ADMIN_TOP_UP_EVERY = 10
const USERS = ['alice', 'bob', 'admin']
const JWT_SECRET = 'hostile-input-suite-secret-of-32-bytes-or-more'

interface Served {
  fetch: (request: Request) => Response | Promise<Response>
  port: number
  close(): Promise<void>
}

async function served(app: Hono<WardEnv>): Promise<Served> {
  const server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 })
  await new Promise<void>((resolve) => server.once('listening', () => resolve()))
  return {
    fetch: (request) => app.fetch(request),
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        if ('closeAllConnections' in server) server.closeAllConnections()
      }),
  }
}

/**
 * A host app on the demo's database whose ward issues JWT access tokens and rotates session
 * tokens, and takes logout tokens and security events from `provider`, its sessions linked to
 * it: the routes and credentials the demo does not use (`POST /session/token`, JWTs, the
 * identity provider's routes past the issuer check).
 */
async function jwtHost(
  demo: DemoApp,
  logger: DemoLogger,
  provider: TestProvider,
  bus: BusChoice,
): Promise<{ ward: Ward; app: Hono<WardEnv> }> {
  const ward = await createWard({
    database: demo.ward.orm,
    ...(bus.redisUrl ? { redis: bus.redisUrl } : {}),
    ...(bus.bus ? { bus: bus.bus } : {}),
    jwt: { secret: JWT_SECRET, rotateOnRefresh: true },
    // Known devices on: the device cookie, the devices routes and the report link get fuzzed.
    newDevice: { reportUrl: 'http://localhost/session/report' },
    passive: ['/api/poll'],
    sweepInterval: 0,
    logger,
    identityProviders: [
      {
        issuer: provider.issuer,
        audience: AUDIENCE,
        jwksUri: provider.jwksUri,
        resolveSubject: (subject) => (subject.email === 'bob@example.com' ? 'bob' : null),
      },
    ],
  })
  const app = new Hono<WardEnv>()
  app.use('*', ward.middleware())
  app.post('/api/login', async (c) => {
    const body = (await c.req.json().catch(() => null)) as { username?: unknown } | null
    const user =
      typeof body?.username === 'string' && USERS.includes(body.username) ? body.username : null
    if (!user) return c.json({ error: 'invalid_credentials', message: 'no such user' }, 401)
    const idp = { issuer: provider.issuer, sub: user, sid: randomUUID() }
    const { token, session } = await ward.createSession(c, user, { idp })
    return c.json({ token, session })
  })
  const requireSession = ward.requireSession()
  app.use('/api/*', (c, next) => (c.req.path === '/api/login' ? next() : requireSession(c, next)))
  app.get('/api/me', (c) => c.json({ userId: c.var.session?.userId }))
  app.get('/api/poll', (c) => c.json({ ok: true }))
  app.route('/session', ward.routes())
  app.route(
    '/admin/sessions',
    ward.adminRoutes({ authorize: (c) => c.var.session?.userId === 'admin' }),
  )
  app.notFound((c) => c.json({ error: 'not_found', message: 'no such route' }, 404))
  return { ward, app }
}

type DemoLogger = Pick<Console, 'info' | 'warn' | 'error' | 'debug'>

/** Log lines by level, as the demo and the wards write them. */
function capturingLogger() {
  const lines: { level: string; line: string }[] = []
  const at =
    (level: string) =>
    (...args: unknown[]) => {
      lines.push({ level, line: logLine(args) })
    }
  const logger: DemoLogger = {
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    debug: at('debug'),
  }
  return { lines, logger }
}

/** An answer's body; of an event stream, which never ends by itself, the first event. */
async function bodyText(response: Response): Promise<string> {
  if (!response.headers.get('content-type')?.startsWith('text/event-stream')) {
    return response.text()
  }
  const reader = response.body?.getReader()
  const first = await reader?.read()
  await reader?.cancel()
  return new TextDecoder().decode(first?.value)
}

/** Signs `user` in through the app's JSON login. */
async function login(app: Served, user: string) {
  const answer = await app.fetch(
    new Request('http://localhost/api/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': USER_AGENT },
      body: JSON.stringify({ username: user, password: user }),
    }),
  )
  if (answer.status !== 200) throw new Error(`login ${user}: ${answer.status}`)
  return (await answer.json()) as { token: string; session: { id: string } }
}

/**
 * One more live admin session: the admin's end often (the fuzzed requests log out, revoke all
 * and change user agents), and without one almost nothing gets past the admin view's guard.
 */
async function topUpAdmin(pool: Pool, jwt: Served): Promise<void> {
  const { token } = await login(jwt, 'admin')
  pool.admin.push(token)
  pool.admin.splice(0, Math.max(0, pool.admin.length - 4))
}

/**
 * New sessions for the pool, signed in through the JWT host (one table, so the demo's ward knows
 * them too): its login checks no password, so the demo's per-account throttle, which fuzzed
 * wrong passwords soon trip, never locks the pool out.
 */
async function refill(pool: Pool, jwt: Served, provider: TestProvider): Promise<void> {
  for (const user of USERS) {
    const subject = { format: 'iss_sub', iss: provider.issuer, sub: user }
    pool.idp.push(
      await provider.logoutToken({ sub: user, sid: undefined }),
      await provider.logoutToken({ sid: randomUUID() }),
      await provider.securityEvent({ [RISC_ACCOUNT_DISABLED]: { subject } }),
      await provider.securityEvent(
        { [CAEP_SESSION_REVOKED]: {} },
        { sub_id: { format: 'email', email: `${user}@example.com` } },
      ),
    )
    const plain = await login(jwt, user)
    pool.tokens.push(plain.token)
    if (user === 'admin') pool.admin.push(plain.token)
    pool.ids.push(plain.session.id)
    const jwtLogin = await login(jwt, user)
    const refreshed = await jwt.fetch(
      new Request('http://localhost/session/token', {
        method: 'POST',
        headers: { authorization: `Bearer ${jwtLogin.token}`, 'user-agent': USER_AGENT },
      }),
    )
    if (refreshed.status !== 200) throw new Error(`token ${user}: ${refreshed.status}`)
    const { access, token } = (await refreshed.json()) as { access: string; token: string }
    pool.tokens.push(token)
    if (user === 'admin') pool.admin.push(token)
    pool.ids.push(jwtLogin.session.id)
    pool.access.push(access)
  }
  // The newest few of each: older ones have mostly been evicted (maxSessions 3) or ended.
  for (const list of [pool.tokens, pool.admin, pool.ids, pool.access, pool.idp])
    list.splice(0, Math.max(0, list.length - 12))
}

/** The bus both wards of a round ride on (issue 21: hostile input with each bus). */
interface BusChoice {
  redisUrl?: string
  bus?: 'postgres'
}

const databases: [string, string | null, () => Promise<string | undefined>][] = [
  ['PGlite', null, async () => undefined],
  [
    'PostgreSQL',
    postgresSkipReason,
    async () => {
      const base = String(process.env.DATABASE_URL)
      const name = `${new URL(base).pathname.slice(1) || 'postgres'}_hostile`
      return freshDatabase(base, name)
    },
  ],
]

beforeAll(() => {
  // The demo serves the client's script-tag bundle from its dist, as `npm start` does.
  execFileSync(
    process.execPath,
    [join(import.meta.dirname, '../packages/client/scripts/build-if-needed.ts')],
    {
      stdio: 'ignore',
    },
  )
})

// The PostgreSQL bus is PostgreSQL's LISTEN: PGlite has no round with it (a combination that
// cannot exist, not a skipped one).
const BUSES: [string, string | null, () => BusChoice, (store: string) => boolean][] = [
  ['no bus', null, () => ({}), () => true],
  [
    'the Redis bus',
    redisSkipReason,
    () => ({ redisUrl: String(process.env.REDIS_URL) }),
    () => true,
  ],
  ['the PostgreSQL bus', null, () => ({ bus: 'postgres' }), (store) => store !== 'PGlite'],
]
const rounds = databases.flatMap(([store, storeSkip, database]) =>
  BUSES.filter(([, , , runsOn]) => runsOn(store)).map(
    ([busName, busSkip, bus]) =>
      [`${store} with ${busName}`, storeSkip ?? busSkip, database, bus] as const,
  ),
)

describe.each(rounds)('hostile input on %s', (name, skipReason, database, bus) => {
  let demo: DemoApp
  let jwt: Ward
  let provider: TestProvider
  let apps: Record<HostileRequest['target'], Served>
  const { lines, logger } = capturingLogger()

  beforeAll(async () => {
    if (skipReason) return
    demo = await createDemoApp({ database: await database(), logger, ...bus() })
    provider = await startTestProvider()
    const host = await jwtHost(demo, logger, provider, bus())
    jwt = host.ward
    apps = { demo: await served(demo.app), jwt: await served(host.app) }
  })

  afterAll(async () => {
    if (skipReason) return
    await apps?.demo.close()
    await apps?.jwt.close()
    await jwt?.close()
    await demo?.close()
    await provider?.close()
  })

  const skipNote = skipReason ? ` (skipped: ${skipReason})` : ''
  const errorLines = () => lines.filter(({ level }) => level === 'error').map(({ line }) => line)
  /** Waits (bounded) for a log line at `level` matching `pattern`, as the server gets to it. */
  const logged = async (level: string, pattern: RegExp) => {
    const end = Date.now() + BOUND_MS
    let line: string | undefined
    while (!line && Date.now() < end) {
      line = lines.find((entry) => entry.level === level && pattern.test(entry.line))?.line
      if (!line) await new Promise((resolve) => setTimeout(resolve, 20))
    }
    return line
  }
  const loginAt = (path: string, contentType: string, body: string) =>
    apps.demo.fetch(
      new Request(`http://localhost${path}`, {
        method: 'POST',
        headers: {
          'content-type': contentType,
          origin: 'http://localhost',
          'user-agent': USER_AGENT,
        },
        body,
      }),
    )
  const expectInvalidRequest = async (answer: Response) => {
    expect(answer.status).toBe(400)
    expect(answer.headers.get('content-type')).toMatch(/^application\/json/)
    const { error, message } = await answer.json()
    expect(error).toBe('invalid_request')
    expect(typeof message).toBe('string')
  }

  it.skipIf(skipReason !== null)(
    `a malformed form or multipart login answers 400 invalid_request JSON and logs no error${skipNote}`,
    async () => {
      lines.length = 0
      const multipart = 'multipart/form-data; boundary=XyZ'
      const cases: [string, string][] = [
        [
          'multipart/form-data; boundary=',
          '--\r\nContent-Disposition: form-data; name="username"\r\n\r\nalice\r\n',
        ],
        ['multipart/form-data', 'username=alice&password=alice'],
        [multipart, '--XyZ\r\nContent-Disposition: form-data; name="username"\r\n\r\nal'],
        [multipart, '--XyZ\r\n\r\n\r\n--XyZ--\r\n'],
      ]
      for (const [contentType, body] of cases)
        await expectInvalidRequest(await loginAt('/login', contentType, body))
      expect(errorLines()).toEqual([])
    },
  )

  it.skipIf(skipReason !== null)(
    `an oversized login answers 400 invalid_request JSON, form or JSON${skipNote}`,
    async () => {
      const padding = 'p'.repeat(5_000)
      await expectInvalidRequest(
        await loginAt(
          '/login',
          'application/x-www-form-urlencoded',
          `username=alice&password=${padding}`,
        ),
      )
      await expectInvalidRequest(
        await loginAt(
          '/api/login',
          'application/json',
          JSON.stringify({ username: 'alice', password: padding }),
        ),
      )
    },
  )

  it.skipIf(skipReason !== null)(
    `an upload that breaks off is logged at debug without a stack, never as an error${skipNote}`,
    async () => {
      lines.length = 0
      const { token } = (await (
        await loginAt('/api/login', 'application/json', '{"username":"bob","password":"bob"}')
      ).json()) as {
        token: string
      }
      const broken = (port: number, head: string[], part: string) =>
        rawRequest(
          port,
          Buffer.from(
            `${[...head, `Host: 127.0.0.1:${port}`, `User-Agent: ${USER_AGENT}`].join('\r\n')}\r\n\r\n${part}`,
          ),
          {
            ending: 'reset',
            timeoutMs: BOUND_MS,
          },
        )
      // The ward's ping, its body streamed in chunks: the first chunk never completes.
      await broken(
        apps.demo.port,
        [
          'POST /session/ping HTTP/1.1',
          `Authorization: Bearer ${token}`,
          'Transfer-Encoding: chunked',
        ],
        '400\r\n{"idleFor": 1',
      )
      const line = await logged('debug', /sessionward: .*abort/)
      expect(line).toBeDefined()
      expect(line).not.toMatch(/\n\s+at /)
      // The demo's form login, shorter than its Content-Length.
      await broken(
        apps.demo.port,
        [
          'POST /login HTTP/1.1',
          `Origin: http://127.0.0.1:${apps.demo.port}`,
          'Content-Type: application/x-www-form-urlencoded',
          'Content-Length: 500',
        ],
        'username=alice&pass',
      )
      expect(await logged('debug', /demo: .*POST \/login/)).toBeDefined()
      // The JSON login with chunks Node's parser refuses mid-body: the connection is cut.
      await broken(
        apps.demo.port,
        [
          'POST /api/login HTTP/1.1',
          'Content-Type: application/json',
          'Transfer-Encoding: chunked',
        ],
        'zz\r\n{"username":"alice"}\r\n',
      )
      expect(await logged('debug', /demo: .*POST \/api\/login/)).toBeDefined()
      expect(errorLines()).toEqual([])
    },
  )

  it.skipIf(skipReason !== null)(
    `${RUNS} generated requests keep the contract${skipReason ? ` (skipped: ${skipReason})` : ''}`,
    async () => {
      const statuses = new Map<number | string, number>()
      /** The identity providers' routes' answers, by route and status: their share of the run. */
      const idpStatuses = new Map<string, number>()
      const pool: Pool = { tokens: [], admin: [], ids: [], access: [], idp: [] }
      let sent = 0
      let overSocket = 0
      let slowest = 0
      const found: string[] = []
      lines.length = 0
      // Node's HTTP server and @hono/node-server write to the console themselves.
      const consoleError = vi.spyOn(console, 'error')
      /** What is wrong with the log lines written since the last call. */
      const logProblems = (): string[] => {
        const problems: string[] = []
        for (const { level, line } of lines.splice(0)) {
          if (findLeaks(line).length > 0)
            problems.push(`log line holds a token or digest: ${maskLeaks(line)}`)
          else if (level === 'error') problems.push(`logged an error: ${line.slice(0, 300)}`)
        }
        for (const printed of consoleError.mock.calls.splice(0)) {
          problems.push(`printed an error: ${maskLeaks(logLine(printed)).slice(0, 300)}`)
        }
        return problems
      }

      const property = fc.asyncProperty(hostileRequest(SOCKET_SHARE), async (generated) => {
        if (sent % REFILL_EVERY === 0) await refill(pool, apps.jwt, provider)
        else if (sent % ADMIN_TOP_UP_EVERY === 0) await topUpAdmin(pool, apps.jwt)
        sent++
        const request = withIdpToken(generated, pool)
        const app = apps[request.target]
        const path = pathOf(request, pool)
        const origin =
          request.transport === 'fetch' ? 'http://localhost' : `http://127.0.0.1:${app.port}`
        const headers = headerList(request, path, pool, origin)
        const fetchRequest =
          request.transport === 'fetch' ? asFetchRequest(request, path, headers) : null
        const started = performance.now()
        let answer: Answer | null = null
        if (fetchRequest) {
          const response = await app.fetch(fetchRequest)
          const contentType = response.headers.get('content-type') ?? ''
          answer = { status: response.status, contentType, body: await bodyText(response) }
        } else {
          overSocket++
          // A body that ends early on a connection left open would wait for the rest.
          const ending =
            request.framing === 'wrong-length' && request.ending === 'complete'
              ? 'half-close'
              : request.ending
          const { answer: raw, timedOut } = await rawRequest(
            app.port,
            asRawBytes(request, path, headers, app.port),
            {
              ending,
              timeoutMs: BOUND_MS + 1_000,
            },
          )
          if (timedOut) throw new Error(`no answer and no close within ${BOUND_MS} ms`)
          if (raw && !isParserAnswer(raw)) answer = fromRaw(raw)
          if (raw && isParserAnswer(raw))
            statuses.set(`${raw.status}*`, (statuses.get(`${raw.status}*`) ?? 0) + 1)
        }
        const ms = performance.now() - started
        slowest = Math.max(slowest, ms)
        if (answer) statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1)
        const routed = routedPath(path)
        if (answer && (routed === '/session/backchannel-logout' || routed === '/session/ssf')) {
          const key = `${request.target}:${routed.slice('/session/'.length)} ${answer.status}`
          idpStatuses.set(key, (idpStatuses.get(key) ?? 0) + 1)
        }
        const problems = [
          answer && answerProblem(request, path, answer, ms, BOUND_MS),
          ...logProblems(),
        ]
        for (const problem of problems) {
          if (!problem) continue
          const report = `${request.method} ${shortJson(path)}: ${problem}`
          if (!KEEP_GOING) throw new Error(report)
          found.push(`${report}\n  request: ${shortJson(request)}`)
        }
      })

      try {
        // No shrinking: the sessions a request used are gone by the time it would be retried.
        const run = await fc.check(property, { numRuns: RUNS, seed: SEED, endOnFailure: true })
        if (run.failed) {
          throw new Error(
            `request ${run.numRuns} of seed ${SEED} broke the contract (replay: FUZZ_SEED=${SEED}): ` +
              `${maskLeaks(String((run.errorInstance as Error)?.message ?? run.errorInstance))}\n` +
              `request: ${shortJson(run.counterexample?.[0])}`,
          )
        }
        // Lines written after the last answer (activity writes, aborted uploads) count too.
        await new Promise((resolve) => setTimeout(resolve, 200))
        expect(logProblems()).toEqual([])
        expect(found).toEqual([])
      } finally {
        consoleError.mockRestore()
        const byStatus = [...statuses].sort(([a], [b]) => String(a).localeCompare(String(b)))
        const errors = [...statuses]
          .filter(([status]) => Number(status) >= 500)
          .reduce((n, [, c]) => n + c, 0)
        console.info(
          `hostile-input (${name}): ${sent} requests (${overSocket} over a socket), seed ${SEED}, answers ${byStatus
            .map(([status, count]) => `${status}:${count}`)
            .join(' ')}, ${errors} >= 500, slowest ${Math.round(slowest)} ms` +
            ' (* = refused by Node’s HTTP parser before the app; replay: FUZZ_SEED); identity-provider routes: ' +
            [...idpStatuses]
              .sort(([a], [b]) => a.localeCompare(b))
              .map(([key, count]) => `${key}:${count}`)
              .join(' '),
        )
      }
      expect(sent).toBe(RUNS)
    },
  )
})
