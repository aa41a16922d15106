// The consumer test (`npm run test:consumer`): what a user installs must work, verbatim, in a
// fresh app outside this repository. It packs both packages, lints the tarballs (publint, attw),
// installs them with the README's install line into a temporary app, then
//   1. runs the README's plain-JavaScript server and signs in, pings, calls a protected route,
//      logs out and gets the 401 after it (on embedded PGlite, and on PostgreSQL when
//      DATABASE_URL answers; under CI it must);
//   2. typechecks a strict TypeScript consumer of the documented server and client API with the
//      lowest hono the peer range allows and with the newest, and server-renders the React
//      adapter (@sessionward/client/react) with the installed React, and creates a ward from
//      @sessionward/client/headless;
//   3. builds a Vite app that imports @sessionward/client, and in Chromium loads both that app
//      and the script tag from the path the README names, against the README's server.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromiumSkipReason, launchChromium } from '../e2e/support/chromium.ts'
import { freePort } from '../packages/server/src/test-support/instances.ts'
import {
  freshDatabase,
  postgresSkipReason,
  psqlSkipReason,
} from '../packages/server/src/test-support/postgres.ts'
import { skipOutsideCi } from '../packages/server/src/test-support/services.ts'

const repo = join(import.meta.dirname, '..')
const fixtures = join(import.meta.dirname, 'fixtures')
const work = mkdtempSync(join(tmpdir(), 'sessionward-consumer-'))
const packs = join(work, 'packs')
const app = join(work, 'app')
const keep = process.env.KEEP_CONSUMER === '1'
let step = 0

function log(message: string): void {
  console.log(`\n== consumer ${++step}: ${message}`)
}

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): string {
  console.log(`$ ${command} ${args.join(' ')}`)
  const output = execFileSync(command, args, {
    cwd,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  process.stdout.write(output)
  return output
}

function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`consumer test failed: ${message}`)
  console.log(`ok - ${message}`)
}

/** The code block that follows `<!-- consumer-test:NAME -->` in the root README. */
function readmeBlock(name: string): string {
  const readme = readFileSync(join(repo, 'README.md'), 'utf8')
  const marker = readme.indexOf(`<!-- consumer-test:${name} -->`)
  if (marker < 0) throw new Error(`README.md has no <!-- consumer-test:${name} --> block`)
  const match = /```\w*\n([\s\S]*?)```/.exec(readme.slice(marker))
  if (!match?.[1]) throw new Error(`README.md: no code block after consumer-test:${name}`)
  return match[1]
}

/** A process the test started, answering at `base`. */
interface Started {
  base: string
  stop(): Promise<void>
}

/**
 * Starts `command` in `cwd` on a free PORT, in a process group of its own (so `npm start`'s
 * node goes with it), and waits until `probe` answers.
 */
async function startProcess(
  cwd: string,
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  probe = '/api/me',
  within = 120,
): Promise<Started> {
  const port = await freePort()
  const child: ChildProcess = spawn(command, args, {
    cwd,
    env: { ...env, PORT: String(port) },
    stdio: 'inherit',
    detached: true,
  })
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
  const base = `http://127.0.0.1:${port}`
  for (let attempt = 0; ; attempt++) {
    const early = await Promise.race([exited, new Promise((r) => setTimeout(r, 250, 'waiting'))])
    if (early !== 'waiting') throw new Error(`${command} ${args.join(' ')} exited with ${early}`)
    const answer = await fetch(`${base}${probe}`, { redirect: 'manual' }).catch(() => null)
    if (answer) break
    if (attempt > within * 4) {
      throw new Error(`${command} ${args.join(' ')} did not answer within ${within} s`)
    }
  }
  return {
    base,
    stop: async () => {
      if (child.pid) process.kill(-child.pid, 'SIGTERM')
      await exited
    },
  }
}

/** Starts the README's server.mjs and waits until it answers. */
function startServer(databaseUrl: string | undefined): Promise<Started> {
  const env: NodeJS.ProcessEnv = { ...process.env }
  delete env.DATABASE_URL
  if (databaseUrl) env.DATABASE_URL = databaseUrl
  return startProcess(app, process.execPath, ['server.mjs'], env)
}

async function json(response: Response): Promise<Record<string, unknown>> {
  const text = await response.text()
  try {
    return JSON.parse(text) as Record<string, unknown>
  } catch {
    throw new Error(
      `expected JSON from ${response.url} (${response.status}), got: ${text.slice(0, 200)}`,
    )
  }
}

/** Sign in, ping, a protected route, logout, and the 401 after it, over plain HTTP. */
async function httpFlow(base: string): Promise<void> {
  const post = (path: string, body: unknown, token?: string) =>
    fetch(`${base}${path}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(token && { authorization: `Bearer ${token}` }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
  const wrong = await post('/login', { username: 'alice', password: 'nope' })
  check(wrong.status === 401, `wrong password → ${wrong.status}`)
  const login = await post('/login', { username: 'alice', password: 'alice' })
  const signedIn = await json(login)
  const token = String(signedIn.token)
  check(login.status === 200 && token.startsWith('swt_'), `sign in → ${login.status}, token swt_…`)
  check(
    /__Host-sessionward=/.test(login.headers.get('set-cookie') ?? ''),
    'sign in sets the session cookie',
  )
  const ping = await post('/session/ping', { idleFor: 0 }, token)
  const answer = await json(ping)
  check(
    ping.status === 200 && answer.warnAfter === 840 && answer.expireAfter === 900,
    `ping → ${ping.status} ${JSON.stringify(answer)}`,
  )
  const me = await fetch(`${base}/api/me`, { headers: { authorization: `Bearer ${token}` } })
  const who = await json(me)
  check(
    me.status === 200 && who.userId === 'user-1',
    `GET /api/me → ${me.status} ${JSON.stringify(who)}`,
  )
  const anonymous = await fetch(`${base}/api/me`)
  check(anonymous.status === 401, `GET /api/me without a token → ${anonymous.status}`)
  const logout = await post('/session/logout', undefined, token)
  check(logout.status === 204, `logout → ${logout.status}`)
  const after = await fetch(`${base}/api/me`, { headers: { authorization: `Bearer ${token}` } })
  const problem = await json(after)
  check(
    after.status === 401 && problem.error === 'session_ended' && problem.reason === 'logout',
    `GET /api/me after logout → ${after.status} ${JSON.stringify(problem)}`,
  )
}

/** In Chromium: the served script tag and the Vite app each see a live session, then log out. */
async function browserFlow(base: string): Promise<void> {
  const browser = await launchChromium()
  try {
    const context = await browser.newContext()
    const page = await context.newPage()
    const signIn = () =>
      page.evaluate(async () => {
        const answer = await fetch('/login', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ username: 'alice', password: 'alice' }),
        })
        return answer.status
      })
    const logoutAnswer = () =>
      page.waitForResponse(
        (r) => r.url() === `${base}/session/logout` && r.request().method() === 'POST',
      )
    const me = () => page.evaluate(async () => (await fetch('/api/me')).status)

    // The script tag, from the path the README names, served by the ward itself. Sign in from a
    // page of the same origin first (the JSON 401 of /api/me), as a login page would.
    await page.goto(`${base}/api/me`)
    check((await signIn()) === 200, 'a same-origin page signs in; the browser keeps the cookie')
    check((await me()) === 200, 'GET /api/me with the cookie → 200')
    const script = page.waitForResponse(`${base}/session/sessionward.js`)
    await page.goto(`${base}/`)
    const served = await script
    check(
      served.status() === 200 && /javascript/.test(served.headers()['content-type'] ?? ''),
      `GET /session/sessionward.js → ${served.status()} ${served.headers()['content-type']}`,
    )
    await page.waitForFunction(() => window.SessionWard?.ward?.getState() === 'active')
    check(true, 'window.SessionWard.ward started from the data- attributes: state active')
    // The dialog's texts beside the bundle, read by the server from the installed client.
    const german = await page.evaluate(async () => {
      const answer = await fetch('/session/sessionward.locale.de.json')
      return { status: answer.status, tag: ((await answer.json()) as { tag?: string }).tag }
    })
    check(
      german.status === 200 && german.tag === 'de',
      `GET /session/sessionward.locale.de.json → ${german.status} ${german.tag}`,
    )
    let logout = logoutAnswer()
    await page.evaluate(() => window.SessionWard.ward?.logout())
    check((await logout).status() === 204, 'the script-tag SDK logs out → 204')
    await page.waitForURL(/\/login\?reason=/)
    check(true, `every tab leaves for ${new URL(page.url()).pathname}${new URL(page.url()).search}`)
    check((await me()) === 401, 'GET /api/me after the SDK logged out → 401')

    // The Vite app, served from its build output on the server's origin.
    const dist = join(app, 'web', 'dist')
    await page.route(`${base}/vite/**`, (route) => {
      const path = new URL(route.request().url()).pathname.replace(/^\/vite\/?/, '') || 'index.html'
      const type = path.endsWith('.js') ? 'text/javascript' : 'text/html'
      return route.fulfill({ body: readFileSync(join(dist, path)), contentType: type })
    })
    await page.goto(`${base}/api/me`)
    check((await signIn()) === 200, 'signed in again for the Vite app')
    await page.goto(`${base}/vite/`)
    await page.waitForFunction(
      () => (window as { viteWard?: { getState(): string } }).viteWard?.getState() === 'active',
    )
    check(true, 'the Vite app started createSessionWard: state active')
    logout = logoutAnswer()
    await page.evaluate(() => (window as { viteWard?: { logout(): void } }).viteWard?.logout())
    check((await logout).status() === 204, 'the bundled SDK logs out → 204')
    await page.waitForURL(/\/login\?reason=/)
    check((await me()) === 401, 'GET /api/me after the bundled SDK logged out → 401')
  } finally {
    await browser.close()
  }
}

/** The examples under examples/: each file named here is a README block, verbatim. */
const EXAMPLES = [
  { name: 'express', framework: 'Express', files: ['server.mjs'] },
  { name: 'fastify', framework: 'Fastify', files: ['server.mjs'] },
  {
    name: 'next',
    framework: 'Next.js',
    files: ['lib/ward.js', 'app/session/[...path]/route.js', 'proxy.js', 'app/login/actions.js'],
  },
]

/**
 * Copies an example (and the pages the examples share) out of the repository, checks its files
 * are the README's blocks, and installs it with the tarballs in place of the registry's
 * @sessionward packages (its other dependencies as its package.json pins them).
 */
function installExample(example: (typeof EXAMPLES)[number], tarballs: string[]): string {
  const examples = join(work, 'examples')
  const outside = (source: string) => !/[/\\](node_modules|\.next)([/\\]|$)/.test(source)
  cpSync(join(repo, 'examples', 'shared'), join(examples, 'shared'), { recursive: true })
  const dir = join(examples, example.name)
  cpSync(join(repo, 'examples', example.name), dir, { recursive: true, filter: outside })
  for (const file of example.files) {
    const block = readmeBlock(`examples/${example.name}/${file}`)
    check(
      block === readFileSync(join(dir, file), 'utf8'),
      `README's examples/${example.name}/${file} block is the example's file`,
    )
  }
  run('npm', ['install', '--no-audit', '--no-fund', ...tarballs], dir)
  return dir
}

/**
 * An example in Chromium, as a person uses it: the login form, the guarded page and API, the
 * warning after `warnAfter` (WARN_AFTER), Stay, sign out, and the 401 after it.
 */
async function exampleFlow(base: string, framework: string): Promise<void> {
  const browser = await launchChromium()
  try {
    const page = await (await browser.newContext()).newPage()
    const me = () => page.evaluate(async () => (await fetch('/api/me')).status)
    const shows = (selector: string, text: string) =>
      page.waitForFunction(
        ([s, t]) => document.querySelector(s as string)?.textContent === t,
        [selector, text],
        { timeout: 60_000 },
      )
    await page.goto(`${base}/`)
    await page.waitForURL((url) => url.pathname === '/login')
    check((await me()) === 401, `${framework}: / without a session → /login; GET /api/me → 401`)
    await page.fill('#username', 'alice')
    await page.fill('#password', 'alice')
    const signedInAt = Date.now()
    await Promise.all([page.waitForURL(`${base}/`), page.click('button[type="submit"]')])
    await shows('#user', 'user-1')
    check((await me()) === 200, `${framework}: signed in through the form; GET /api/me → 200`)
    await shows('#state', 'warning')
    await page.waitForSelector('[data-sessionward="stay"]', { state: 'visible' })
    const idle = (Date.now() - signedInAt) / 1000
    check(
      idle >= Number(EXAMPLE_ENV.WARN_AFTER),
      `${framework}: left idle, the warning dialog shows after ${idle.toFixed(1)} s (WARN_AFTER ${EXAMPLE_ENV.WARN_AFTER})`,
    )
    const stay = page.waitForResponse((r) => r.url() === `${base}/session/ping`)
    await page.click('[data-sessionward="stay"]')
    await shows('#state', 'active')
    const stayed = await stay
    check(
      stayed.status() === 200,
      `${framework}: Stay → active, POST /session/ping → ${stayed.status()} ${await stayed.text()}`,
    )
    const logout = page.waitForResponse(
      (r) => r.url() === `${base}/session/logout` && r.request().method() === 'POST',
    )
    await page.click('#logout')
    check((await logout).status() === 204, `${framework}: Sign out → POST /session/logout 204`)
    await page.waitForURL(/\/login\?reason=logout/)
    check((await me()) === 401, `${framework}: on /login?reason=logout, GET /api/me → 401`)
  } finally {
    await browser.close()
  }
}

/** The examples' thresholds here: the warning soon, room to press Stay and sign out after it. */
const EXAMPLE_ENV = { WARN_AFTER: '8', EXPIRE_AFTER: '60', NEXT_TELEMETRY_DISABLED: '1' }

/**
 * Imports the React adapter as an app would (its export, then the core through the package's
 * name) and renders the provider and hook on the server, where nothing may touch `window`.
 */
const REACT_PROBE = `import { createElement as h } from 'react'
import { renderToString } from 'react-dom/server'
import { SessionWardProvider, useSessionWard } from '@sessionward/client/react'
const State = () => h('output', null, useSessionWard().state)
console.log(renderToString(h(SessionWardProvider, { options: { pingUrl: '/session/ping' } }, h(State))))`

/** The headless entry as an app imports it: a ward without the dialog, built without a window. */
const HEADLESS_PROBE = `import { createSessionWard } from '@sessionward/client/headless'
const ward = createSessionWard({ pingUrl: '/session/ping', dialog: true })
console.log(ward.getState(), typeof ward.whilePending)`

async function main(): Promise<void> {
  // Decided first: under CI a missing service fails the run here, before any packing.
  const postgresSkip = skipOutsideCi('the PostgreSQL run', postgresSkipReason)
  const cliSkip = skipOutsideCi('the CLI run', psqlSkipReason)
  const browserSkip = skipOutsideCi('the browser run', chromiumSkipReason)
  console.log(`consumer test in ${work}`)
  log('pack both packages (prepack builds them)')
  mkdirSync(packs)
  run(
    'npm',
    [
      'pack',
      '-w',
      'packages/server',
      '-w',
      'packages/client',
      '--pack-destination',
      packs,
      '--silent',
    ],
    repo,
  )
  const tarballs = readdirSync(packs).filter((name) => name.endsWith('.tgz'))
  check(tarballs.length === 2, `two tarballs: ${tarballs.join(', ')}`)
  const tarball = (name: string) =>
    join(packs, tarballs.find((t) => t.startsWith(`sessionward-${name}-`)) ?? '')

  log('publint and attw on each tarball')
  for (const name of ['server', 'client']) {
    run('npx', ['publint', 'run', tarball(name), '--strict'], repo)
    run('npx', ['attw', tarball(name), '--profile', 'esm-only', '--format', 'ascii'], repo)
  }

  log("install the tarballs into a fresh app with the README's install line")
  cpSync(fixtures, app, { recursive: true })
  const installs = readmeBlock('install')
    .split('\n')
    .map((line) => line.replace(/#.*$/, '').trim())
    .filter((line) => line.startsWith('npm install '))
  check(installs.length > 0, `README install lines: ${installs.length}`)
  const devTools = readFileSync(join(repo, 'package.json'), 'utf8')
  const pinned = JSON.parse(devTools).devDependencies as Record<string, string>
  for (const line of installs) {
    const packages = line
      .split(/\s+/)
      .slice(2)
      .map((name) => (name.startsWith('@sessionward/') ? tarball(name.split('/')[1] ?? '') : name))
    run('npm', ['install', '--no-audit', '--no-fund', ...packages], app)
  }
  // The app's own tools, at the versions this repository tests with (React for the adapter).
  const tools = ['typescript', 'vite', '@types/node', 'react', 'react-dom'].map(
    (name) => `${name}@${pinned[name]}`,
  )
  run('npm', ['install', '--no-audit', '--no-fund', '-D', ...tools], app)
  writeFileSync(join(app, 'server.mjs'), readmeBlock('server.mjs'))

  // The repository's own suite runs on the newest hono; here everything after the typecheck runs
  // on the lowest the peer range allows.
  log(
    'typecheck a strict TypeScript consumer with the newest and the lowest hono the peer range allows',
  )
  const peerRange = JSON.parse(readFileSync(join(repo, 'packages/server/package.json'), 'utf8'))
    .peerDependencies.hono as string
  const lowest = /^\^(\d+\.\d+\.\d+)$/.exec(peerRange)?.[1]
  check(lowest, `hono peer range ${peerRange}, lowest ${lowest}`)
  const newest = run('npm', ['view', 'hono', 'version'], app).trim()
  for (const version of [newest, lowest]) {
    run('npm', ['install', '--no-audit', '--no-fund', `hono@${version}`], app)
    const installed = JSON.parse(
      readFileSync(join(app, 'node_modules/hono/package.json'), 'utf8'),
    ).version
    // Strict with exactOptionalPropertyTypes; then every declaration file checked too
    // (MikroORM's own declarations fail under exactOptionalPropertyTypes, so not both at once).
    run('npx', ['tsc', '-p', 'tsconfig.json'], app)
    run('npx', ['tsc', '-p', 'tsconfig.libcheck.json'], app)
    check(installed === version, `tsc --noEmit passes with hono ${installed}`)
  }

  log('@sessionward/client/react from the tarball: server-rendered by the installed React')
  const rendered = run(process.execPath, ['--input-type=module', '-e', REACT_PROBE], app).trim()
  check(
    rendered === '<output>stopped</output>',
    `the provider and hook render ${rendered} without a window`,
  )

  log('@sessionward/client/headless from the tarball')
  const headless = run(process.execPath, ['--input-type=module', '-e', HEADLESS_PROBE], app).trim()
  check(headless === 'stopped function', `the headless entry creates a ward: ${headless}`)

  log('build a Vite app that imports @sessionward/client')
  run('npx', ['vite', 'build', '--logLevel', 'warn'], join(app, 'web'))
  const built = readdirSync(join(app, 'web', 'dist', 'assets'))
  check(
    built.some((file) => file.endsWith('.js')),
    `vite build wrote ${built.join(', ')}`,
  )
  // Locales are chunks of their own, fetched when a page asks for one: not in the app's entry.
  const chunks = built.filter((file) => file.endsWith('.js'))
  const holding = (text: string) =>
    chunks.filter((file) =>
      readFileSync(join(app, 'web', 'dist', 'assets', file), 'utf8').includes(text),
    )
  const entry = holding('sessionward')
  const german = holding('Angemeldet bleiben')
  check(
    german.length === 1 && !entry.includes(german[0] ?? ''),
    `the German texts are one lazy chunk (${german.join(', ')}), not in ${entry.join(', ')}`,
  )

  log(
    "the README's server on embedded PGlite (lowest hono): sign in, ping, protected route, logout, 401",
  )
  let server = await startServer(undefined)
  try {
    await httpFlow(server.base)
  } finally {
    await server.stop()
  }

  let databaseUrl: string | undefined
  if (!postgresSkip) {
    log("the README's server on PostgreSQL (a fresh database)")
    const base = new URL(String(process.env.DATABASE_URL)).pathname.slice(1) || 'postgres'
    databaseUrl = await freshDatabase(String(process.env.DATABASE_URL), `${base}_consumer`)
    server = await startServer(databaseUrl)
    try {
      await httpFlow(server.base)
    } finally {
      await server.stop()
    }
  } else {
    console.log(`PostgreSQL run skipped: ${postgresSkip}`)
  }

  log(
    'the migration CLI of the installed package: --sql through psql, then migrate finds it current',
  )
  if (!cliSkip) {
    const base = new URL(String(process.env.DATABASE_URL)).pathname.slice(1) || 'postgres'
    const empty = await freshDatabase(String(process.env.DATABASE_URL), `${base}_consumer_sql`)
    run('npx', ['sessionward', '--help'], app)
    const sql = run('npx', ['sessionward', 'migrate', '--sql', '--database', empty], app)
    check(/create table/i.test(sql), `migrate --sql printed ${sql.split('\n').length} lines of SQL`)
    writeFileSync(join(app, 'schema.sql'), sql)
    run('psql', [empty, '-q', '-v', 'ON_ERROR_STOP=1', '-f', 'schema.sql'], app)
    const after = run('npx', ['sessionward', 'migrate', '--database', empty], app)
    check(
      /is current/.test(after),
      'after psql applied the SQL, `sessionward migrate` finds the schema current',
    )
    const other = await freshDatabase(String(process.env.DATABASE_URL), `${base}_consumer_cli`)
    const applied = run('npx', ['sessionward', 'migrate', '--database', other], app)
    check(
      /^Applied \d+ migrations/.test(applied),
      'on another empty database it applies the migrations',
    )
  } else {
    console.log(`CLI run skipped: ${cliSkip}`)
  }

  log("in Chromium: the served script tag and the Vite app against the README's server")
  if (browserSkip) {
    console.log(`browser run skipped: ${browserSkip}`)
  } else {
    server = await startServer(databaseUrl)
    try {
      await browserFlow(server.base)
    } finally {
      await server.stop()
    }
  }
  for (const example of EXAMPLES) {
    log(`examples/${example.name} with the tarballs installed, in Chromium`)
    const dir = installExample(example, [tarball('server'), tarball('client')])
    if (browserSkip) {
      console.log(`browser run skipped: ${browserSkip}`)
      continue
    }
    const env: NodeJS.ProcessEnv = { ...process.env, ...EXAMPLE_ENV }
    delete env.DATABASE_URL
    // `npm start` of the Next.js example builds it first (`next build`): minutes on a busy machine.
    const started = await startProcess(dir, 'npm', ['start'], env, '/api/me', 900)
    try {
      await exampleFlow(started.base, example.framework)
    } finally {
      await started.stop()
    }
  }
  log('embedded mode without the optional PGlite packages: createWard says what to install')
  run('npm', ['uninstall', '--no-audit', '--no-fund', '@mikro-orm/pglite'], app)
  const probe = `import('@sessionward/server').then((m) => m.createWard()).then(
    () => { console.log('createWard succeeded'); process.exit(1) },
    (e) => { console.log(e.name + ': ' + e.message); process.exit(0) })`
  const message = run(process.execPath, ['--input-type=module', '-e', probe], app)
  check(
    /WardOptionsError/.test(message) && /npm install [^`]*@mikro-orm\/pglite/.test(message),
    'createWard() without @mikro-orm/pglite fails with the install command',
  )
  console.log('\n== consumer test passed')
}

try {
  await main()
} finally {
  if (!keep) rmSync(work, { recursive: true, force: true })
}
