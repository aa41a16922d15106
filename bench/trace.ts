// `npm run trace`: which library files and functions one request runs (issue 20). A ward runs
// in-process on an in-memory PGlite behind a small Hono app; one user logs in; after a warm-up,
// exactly one cache-hit request and one cache-refresh request (the entry older than cacheTtl, so
// the row is read again) go through `app.request()`. Each request is measured two ways at once:
// - calls: V8 precise coverage, taken just before and just after the request (a take resets
//   the counters), so the counts are that request's alone;
// - order: a worker thread debugs this thread (`connectToMainThread`) and steps through the
//   request statement by statement; the library statements it pauses at, in order, give the
//   file-to-file transitions (code outside the library in between is not counted).
// The library is whatever lies under the folder of the package's source entry: no file name
// is written here, so the numbers stay comparable when modules are split or renamed.
import { execFileSync } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { Session } from 'node:inspector/promises'
import { dirname, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { isMainThread, type MessagePort, parentPort, Worker } from 'node:worker_threads'
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

/** A statement of a library file the stepping worker paused at: its file and function. */
interface Step {
  file: string
  name: string
}

// The main thread pauses in these for the stepping worker: two functions, because with one
// the second request's start did not pause (Node 24).
function startStepping(): void {
  // biome-ignore lint/suspicious/noDebugger: the worker starts stepping here
  debugger
}
function stopStepping(): void {
  // biome-ignore lint/suspicious/noDebugger: the worker stops stepping here
  debugger
}

// A blackboxed range from a script's start runs to its end.
const START = { lineNumber: 0, columnNumber: 0 }

/**
 * The worker: steps the main thread from `startStepping()` to `stopStepping()` and sends the
 * library statements it paused at, for each request.
 */
async function stepMainThread(port: MessagePort): Promise<void> {
  const debuggee = new Session()
  debuggee.connectToMainThread()
  let steps: Step[] | null = null
  // Call frames carry a script id: the paths come from the scripts the debugger announces.
  // Every other file (node_modules) is blackboxed, so stepping runs through it without a
  // pause; Node's own `node:` scripts cannot be, and their pauses are passed over.
  const paths = new Map<string, string>()
  debuggee.on('Debugger.scriptParsed', ({ params: { scriptId, url } }) => {
    const path = url.startsWith('file:') ? fileURLToPath(url) : ''
    if (isLibraryFile(path) || url === import.meta.url) paths.set(scriptId, path)
    else void debuggee.post('Debugger.setBlackboxedRanges', { scriptId, positions: [START] })
  })
  debuggee.on('Debugger.paused', ({ params }) => {
    const [top] = params.callFrames
    const path = paths.get(top?.location.scriptId ?? '')
    if (!steps && top?.functionName === startStepping.name) steps = []
    else if (steps && top?.functionName === stopStepping.name) {
      port.postMessage(steps)
      steps = null
    } else if (steps && top && path && isLibraryFile(path)) {
      steps.push({ file: relative(library, path), name: top.functionName || '(anonymous)' })
    }
    void debuggee.post(steps ? 'Debugger.stepInto' : 'Debugger.resume')
  })
  // Listening keeps the worker alive until the main thread says it is done.
  port.once('message', () => debuggee.disconnect())
  await debuggee.post('Debugger.enable')
  port.postMessage('ready')
}

/** What one traced request ran: its answer, the SQL it sent, the library calls and steps. */
interface Trace {
  status: number
  statements: number
  calls: Call[]
  steps: Step[]
}

/** The files the steps went through, in order, a file named once per stay. */
function stays(steps: Step[]): string[] {
  return steps.flatMap((step, i) => (step.file === steps[i - 1]?.file ? [] : [step.file]))
}

const functionsOf = (runs: Step[]) => new Set(runs.map((run) => `${run.file} ${run.name}`))

/** The request's numbers; transitions are null when the steps and the coverage disagree. */
function summarise({ status, statements, calls, steps }: Trace) {
  // Had stepping lost the request (an await it could not follow), some function coverage
  // counted would be missing from the steps. The steps may name more: a class's implicit
  // constructor is a frame to the debugger and no function to coverage.
  const stepped = functionsOf(steps)
  const stepsComplete = [...functionsOf(calls)].every((name) => stepped.has(name))
  return {
    status,
    statements,
    files: new Set(calls.map((call) => call.file)).size,
    functions: calls.length,
    calls: calls.reduce((sum, call) => sum + call.count, 0),
    transitions: stepsComplete ? stays(steps).length - 1 : null,
  }
}

function report(title: string, trace: Trace): string {
  const summary = summarise(trace)
  const path = stays(trace.steps)
  const transitions =
    summary.transitions ?? 'not measured (the steps missed functions coverage counted)'
  const lines = [
    `${title}: ${summary.status}, ${summary.statements} SQL statements`,
    `  ${summary.files} files, ${summary.functions} functions, ${summary.calls} calls`,
    `  file-to-file transitions: ${transitions}`,
    `  ${trace.steps.length} library statements, file by file: ${path.join(' → ')}`,
  ]
  trace.calls.forEach((call, i) => {
    if (call.file !== trace.calls[i - 1]?.file) lines.push(`  ${call.file}`)
    lines.push(`    ${call.name} (line ${call.line}) ×${call.count}`)
  })
  return lines.join('\n')
}

/** Starts the ward, warms it up, traces one cache hit and one cache refresh and prints them. */
async function main(): Promise<void> {
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
  // Held still for the cache hit, so it comes within the second of the request before it (the
  // common case: activity is kept to the second, so such a request records none).
  let heldAt: number | null = null
  Date.now = () => heldAt ?? realNow() + skipped
  const pastCacheTtl = () => {
    heldAt = null
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
  const login = await app.request('/login', {
    method: 'POST',
    headers: { 'user-agent': userAgent },
  })
  const { token } = await login.json()
  const me = async () => {
    const response = await app.request('/api/me', {
      headers: { authorization: `Bearer ${token}`, 'user-agent': userAgent },
    })
    await response.text()
    return response.status
  }

  const coverage = new Session()
  coverage.connect()
  await coverage.post('Profiler.enable')
  await coverage.post('Profiler.startPreciseCoverage', { callCount: true, detailed: true })
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < WARM_UP; i++) await me()
    pastCacheTtl()
  }
  await me()

  const stepper = new Worker(new URL(import.meta.url))
  await once(stepper, 'message')
  /** Runs one request between two coverage takes and two pauses, the clock as `before` leaves it. */
  async function trace(before: () => void | Promise<void>): Promise<Trace> {
    await before()
    const stepped = once(stepper, 'message')
    await takeCalls(coverage)
    const sent = statements
    startStepping()
    const status = await me()
    // Work the request started without awaiting it (an activity write) finishes within this turn.
    await new Promise((resolve) => setImmediate(resolve))
    stopStepping()
    const calls = await takeCalls(coverage)
    const [steps] = (await stepped) as [Step[]]
    return { status, statements: statements - sent, calls, steps }
  }

  const hit = await trace(async () => {
    heldAt = realNow() + skipped
    await me()
  })
  const refresh = await trace(pastCacheTtl)
  stepper.postMessage('done')
  await coverage.post('Profiler.stopPreciseCoverage')
  coverage.disconnect()
  await ward.close()
  await orm.close(true)
  if (hit.status !== 200 || refresh.status !== 200 || hit.statements > 0 || !refresh.statements) {
    throw new Error('the traced requests were not a cache hit and a cache refresh')
  }

  const git = ['describe', '--always', '--dirty', '--abbrev=7']
  const commit = execFileSync('git', git, { encoding: 'utf8' }).trim()
  console.log(
    [
      `Library: ${relative(process.cwd(), library)} at ${commit}. Calls: V8 precise coverage; transitions: debugger steps.`,
      '',
      report('Cache hit: GET /api/me, the session cached and fresh', hit),
      '',
      report(`Cache refresh: GET /api/me, the entry older than cacheTtl (${CACHE_TTL} s)`, refresh),
      '',
      `TRACE ${JSON.stringify({ commit, hit: summarise(hit), refresh: summarise(refresh) })}`,
    ].join('\n'),
  )
}

if (isMainThread) await main()
else if (parentPort) await stepMainThread(parentPort)
