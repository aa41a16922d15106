// `npm run trace`: which library files and functions one request runs (issue 20). A ward runs
// in-process on an in-memory PGlite behind a small Hono app; one user logs in; after a warm-up,
// exactly one cache-hit request and one cache-refresh request (the entry older than cacheTtl, so
// the row is read again) go through `app.request()`, each between two V8 precise-coverage takes.
// Coverage counts calls but not their order, so file-to-file transitions are not reported.
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { Session } from 'node:inspector/promises'
import { dirname, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { MikroORM } from '@mikro-orm/core'
import { PgliteDriver } from '@mikro-orm/pglite'
import { createWard, SessionEntity, type WardEnv } from '@sessionward/server'
import { Hono } from 'hono'

const CACHE_TTL = 5
const WARM_UP = 50
// Every module the library's entry loads sits under this folder, whatever the files are called.
const library = dirname(fileURLToPath(import.meta.resolve('@sessionward/server')))

/** One library function a request ran: where it starts and how often it was called. */
interface Call {
  file: string
  name: string
  line: number
  count: number
}

const isLibraryFile = (path: string) =>
  path.startsWith(`${library}/`) && !path.endsWith('.test.ts') && !path.includes('/test-support/')

// Node strips TypeScript types by blanking them, so a script's offsets are the .ts file's own.
const lineStarts = new Map<string, number[]>()
function lineOf(path: string, offset: number): number {
  let starts = lineStarts.get(path)
  if (!starts) {
    starts = [0]
    const text = readFileSync(path, 'utf8')
    for (let i = 0; i < text.length; i++) if (text[i] === '\n') starts.push(i + 1)
    lineStarts.set(path, starts)
  }
  return starts.findLastIndex((start) => start <= offset) + 1
}

/** The library functions called since the last take (a take resets V8's counters). */
async function takeCalls(inspector: Session): Promise<Call[]> {
  const { result } = await inspector.post('Profiler.takePreciseCoverage')
  const calls: Call[] = []
  for (const script of result) {
    if (!script.url.startsWith('file:')) continue
    const path = fileURLToPath(script.url)
    if (!isLibraryFile(path)) continue
    for (const fn of script.functions) {
      // The first range is the whole function; its count is the number of calls.
      const whole = fn.ranges[0]
      if (!whole || whole.count === 0) continue
      calls.push({
        file: relative(library, path),
        name: fn.functionName || '(anonymous)',
        line: lineOf(path, whole.startOffset),
        count: whole.count,
      })
    }
  }
  return calls.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line)
}

/** What one traced request ran: its answer, the SQL it sent and the library calls. */
interface Trace {
  status: number
  statements: number
  calls: Call[]
}

const summarise = ({ status, statements, calls }: Trace) => ({
  status,
  statements,
  files: new Set(calls.map((call) => call.file)).size,
  functions: calls.length,
  calls: calls.reduce((sum, call) => sum + call.count, 0),
})

function report(title: string, trace: Trace): string {
  const summary = summarise(trace)
  const lines = [
    `${title}: ${summary.status}, ${summary.statements} SQL statements`,
    `  ${summary.files} files, ${summary.functions} functions, ${summary.calls} calls`,
  ]
  let file = ''
  for (const call of trace.calls) {
    if (call.file !== file) lines.push(`  ${(file = call.file)}`)
    lines.push(`    ${call.name} (line ${call.line}) ×${call.count}`)
  }
  return lines.join('\n')
}

// The SQL the ward sends, counted to check that a hit reads nothing and a refresh reads the row.
let statements = 0
const orm = await MikroORM.init({
  entities: [SessionEntity],
  driver: PgliteDriver,
  dbName: 'memory://',
  debug: ['query'],
  colors: false,
  logger: (message) => {
    if (message.startsWith('[query]')) statements++
  },
})
// The fake clock: moving it past cacheTtl makes the next request read the row again.
const realNow = Date.now
let skipped = 0
Date.now = () => realNow() + skipped
const pastCacheTtl = () => {
  skipped += (CACHE_TTL + 1) * 1000
}

const ward = await createWard({
  database: orm,
  cacheTtl: CACHE_TTL,
  sweepInterval: 0,
  logger: { info: () => {}, warn: console.warn, error: console.error },
})
await ward.migrate()
const app = new Hono<WardEnv>()
app.post('/login', async (c) => c.json(await ward.createSession(c, 'trace-user')))
app.get('/api/me', ward.requireSession(), (c) => c.json({ userId: c.var.session?.userId }))

const userAgent = 'sessionward-trace'
const { token } = await (
  await app.request('/login', { method: 'POST', headers: { 'user-agent': userAgent } })
).json()
const me = async () => {
  const response = await app.request('/api/me', {
    headers: { authorization: `Bearer ${token}`, 'user-agent': userAgent },
  })
  await response.text()
  return response.status
}

const inspector = new Session()
inspector.connect()
await inspector.post('Profiler.enable')
await inspector.post('Profiler.startPreciseCoverage', { callCount: true, detailed: true })
for (let round = 0; round < 3; round++) {
  for (let i = 0; i < WARM_UP; i++) await me()
  pastCacheTtl()
}
await me()

/** Runs one request between two coverage takes, with the clock as `before` leaves it. */
async function trace(before: () => void): Promise<Trace> {
  before()
  await takeCalls(inspector)
  const sent = statements
  const status = await me()
  // Work the request started without awaiting it (an activity write) finishes within this turn.
  await new Promise((resolve) => setImmediate(resolve))
  return { status, statements: statements - sent, calls: await takeCalls(inspector) }
}

const hit = await trace(() => {})
const refresh = await trace(pastCacheTtl)
await inspector.post('Profiler.stopPreciseCoverage')
inspector.disconnect()
await ward.close()
await orm.close(true)

const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim()
console.log(
  [
    `Library: ${relative(process.cwd(), library) || '.'} (commit ${commit}); calls counted by V8 precise coverage.`,
    'File-to-file transitions: not measured (coverage counts calls, not their order).',
    '',
    report('Cache hit: GET /api/me, the session cached and fresh', hit),
    '',
    report(`Cache refresh: GET /api/me, the entry older than cacheTtl (${CACHE_TTL} s)`, refresh),
    '',
    `TRACE ${JSON.stringify({ commit, hit: summarise(hit), refresh: summarise(refresh) })}`,
  ].join('\n'),
)
