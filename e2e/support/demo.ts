import { execFileSync } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { serve } from '@hono/node-server'
import { MikroORM } from '@mikro-orm/core'
import { PostgreSqlDriver } from '@mikro-orm/postgresql'
import type { EntityManager } from '@mikro-orm/sql'
import { type NewDeviceEvent, SessionEntity } from '@sessionward/server'
import type { Browser } from 'playwright-core'
import { createDemoApp, type DemoApp } from '../../demo/app.ts'
import type { DemoIdentityProvider } from '../../demo/identity-provider.ts'
import type { DemoUser } from '../../demo/users.ts'
import { leakCheckedLogger } from '../../packages/server/src/test-support/leaks.ts'
import { launchChromium } from './chromium.ts'

const ROOT = join(import.meta.dirname, '..', '..')

/** Where the e2e runs write the README's screenshots. */
export const IMAGES = join(ROOT, 'docs', 'images')

/** A session row as the database holds it. */
export interface Row {
  id: string
  userId: string
  createdAt: Date
  lastActivityAt: Date
  endedAt: Date | null
  endReason: string | null
  userAgent: string
}

/** A logout request the server received. */
export interface LogoutRequest {
  /** The e2e device (browser context) that sent it, from the `x-e2e-device` header. */
  device: string | null
  /** The session cookie it carried (the token), or null (a 401 before it clears the cookie). */
  token: string | null
  at: number
}

/** The demo, served in this process on a random port, with what the e2e assertions need. */
export interface RunningDemo {
  url: string
  demo: DemoApp
  /** Where the rows live: "PGlite" or "PostgreSQL". */
  store: string
  logouts: LogoutRequest[]
  /** Every row of a user, oldest first, read from the database (not the ward's cache). */
  rows(userId: string): Promise<Row[]>
  row(id: string): Promise<Row | null>
  close(): Promise<void>
}

/** The e2e accounts: one per scenario, so parallel scenarios never share a session cap. */
export const E2E_USERS: DemoUser[] = [
  'carol',
  'dave',
  'erin',
  'frank',
  'grace',
  'heidi',
  'ivan',
  'judy',
  'kim',
  'mallory',
].map((id) => ({ id, name: id[0]?.toUpperCase() + id.slice(1), password: id, role: 'user' }))

const COOKIE = '__Host-sessionward'

function cookieToken(header: string | null): string | null {
  for (const part of header?.split(';') ?? []) {
    const [name, ...value] = part.trim().split('=')
    if (name === COOKIE) return value.join('=')
  }
  return null
}

/** A fresh PostgreSQL database for this run, made from DATABASE_URL; dropped by `drop()`. */
async function freshPostgres(baseUrl: string) {
  const url = new URL(baseUrl)
  const name = `${url.pathname.slice(1) || 'postgres'}_e2e_${process.pid}`
  const admin = async (sql: string) => {
    const orm = await MikroORM.init({
      driver: PostgreSqlDriver,
      clientUrl: baseUrl,
      entities: [SessionEntity],
    })
    try {
      await (orm.em.fork() as EntityManager).execute(sql)
    } finally {
      await orm.close(true)
    }
  }
  await admin(`drop database if exists "${name}" with (force)`)
  await admin(`create database "${name}"`)
  url.pathname = `/${name}`
  return {
    url: url.toString(),
    drop: () => admin(`drop database if exists "${name}" with (force)`),
  }
}

/**
 * Starts the demo as `npm start` does, but in this process (so the test reads rows through the
 * ward's ORM) on 127.0.0.1 and a free port, with short thresholds. On PostgreSQL when
 * DATABASE_URL is set (a fresh database per run), else PGlite in memory.
 */
export async function startDemo(options: {
  warnAfter: number
  expireAfter: number
  maxSessions: number
  identityProvider?: DemoIdentityProvider
  /** Known devices on (issue 23): the report route's URL (its origin is not the served one). */
  reportUrl?: string
  holdNewDevices?: boolean
  endOnScreenLock?: boolean
  onNewDevice?: (event: NewDeviceEvent) => void
}): Promise<RunningDemo> {
  const postgres = process.env.DATABASE_URL ? await freshPostgres(process.env.DATABASE_URL) : null
  const quiet = { info() {}, warn: console.warn, error: console.error }
  const demo = await createDemoApp({
    ...options,
    database: postgres?.url,
    users: E2E_USERS,
    logger: leakCheckedLogger(quiet),
  })
  const logouts: LogoutRequest[] = []
  const server = serve({
    hostname: '127.0.0.1',
    port: 0,
    // Counts logout requests on their way in, whatever the app answers.
    fetch: (request, env) => {
      if (request.method === 'POST' && new URL(request.url).pathname === '/session/logout') {
        logouts.push({
          device: request.headers.get('x-e2e-device'),
          token: cookieToken(request.headers.get('cookie')),
          at: Date.now(),
        })
      }
      return demo.app.fetch(request, env)
    },
  })
  await new Promise<void>((resolve) => server.once('listening', () => resolve()))
  const { port } = server.address() as AddressInfo
  const em = () => demo.ward.orm.em.fork()
  const toRow = (
    entity: Omit<Row, 'endReason' | 'endedAt'> & {
      endReason?: string | null
      endedAt?: Date | null
    },
  ): Row => ({
    id: entity.id,
    userId: entity.userId,
    createdAt: entity.createdAt,
    lastActivityAt: entity.lastActivityAt,
    endedAt: entity.endedAt ?? null,
    endReason: entity.endReason ?? null,
    userAgent: entity.userAgent,
  })
  return {
    url: `http://127.0.0.1:${port}`,
    demo,
    store: postgres ? 'PostgreSQL' : 'PGlite',
    logouts,
    rows: async (userId) =>
      (await em().find(SessionEntity, { userId }, { orderBy: { createdAt: 'asc' } })).map(toRow),
    row: async (id) => {
      const entity = await em().findOne(SessionEntity, { id })
      return entity ? toRow(entity) : null
    },
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve())
        // Keep-alive connections of a browser would hold close() open.
        if ('closeAllConnections' in server) server.closeAllConnections()
      })
      await demo.close()
      await postgres?.drop()
    },
  }
}

/**
 * What a test file starts in `beforeAll`: one headless Chromium and the demo. The demo serves
 * the client's script-tag bundle from its dist, as `npm start` does, so it is built first if
 * missing or older than its sources.
 */
export async function startBrowserAndDemo(
  options: Parameters<typeof startDemo>[0],
): Promise<[Browser, RunningDemo]> {
  execFileSync(process.execPath, [join(ROOT, 'packages/client/scripts/build-if-needed.ts')], {
    stdio: 'ignore',
  })
  mkdirSync(IMAGES, { recursive: true })
  return Promise.all([launchChromium(), startDemo(options)])
}

/**
 * `startBrowserAndDemo` for one test: both are closed when the test finishes, passed or not.
 * @example
 * it('…', async ({ onTestFinished }) => {
 *   const [browser, demo] = await browserAndDemoFor(onTestFinished, { warnAfter: 5, expireAfter: 45, maxSessions: 3 })
 * })
 */
export async function browserAndDemoFor(
  onTestFinished: (cleanup: () => Promise<void>) => void,
  options: Parameters<typeof startDemo>[0],
): Promise<[Browser, RunningDemo]> {
  const [browser, demo] = await startBrowserAndDemo(options)
  onTestFinished(async () => {
    await browser.close()
    await demo.close()
  })
  return [browser, demo]
}
