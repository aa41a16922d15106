import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MikroORM } from '@mikro-orm/core'
import { PgliteDriver } from '@mikro-orm/pglite'
import type { EntityManager } from '@mikro-orm/sql'
import { Hono } from 'hono'
import { describe, expect, it } from 'vitest'
import { migrate } from './database.ts'
import { WardOptionsError } from './errors.ts'
import type { WardEnv } from './middleware.ts'
import { CHROME_120 } from './test-support/app.ts'
import { postgresSkipReason, testDatabase } from './test-support/db.ts'
import { leakCheckedLogger } from './test-support/leaks.ts'
import { createWard, type Ward } from './ward.ts'

function appFor(ward: Ward) {
  const app = new Hono<WardEnv>()
  app.use('*', ward.middleware())
  app.post('/login', async (c) => c.json(await ward.createSession(c, 'alice')))
  app.use('/api/*', ward.requireSession())
  app.get('/api/me', (c) => c.json({ userId: c.var.session?.userId }))
  app.route('/session', ward.routes())
  const headers = (token?: string) => ({
    'user-agent': CHROME_120,
    ...(token ? { authorization: `Bearer ${token}` } : {}),
  })
  return {
    login: async () => app.request('/login', { method: 'POST', headers: headers() }),
    me: async (token: string) => app.request('/api/me', { headers: headers(token) }),
    sessions: async (token: string) =>
      app.request('/session/sessions', { headers: headers(token) }),
  }
}

function capturingLogger() {
  const lines: string[] = []
  const write = (...args: unknown[]) => void lines.push(args.map(String).join(' '))
  return { lines, logger: leakCheckedLogger({ info: write, warn: write, error: write }) }
}

describe('the database option', () => {
  it('omitted: an embedded in-memory PGlite, migrated, closed by ward.close()', async () => {
    const ward = await createWard()
    const { login, me } = appFor(ward)
    const { token } = await (await login()).json()
    expect(await (await me(token)).json()).toEqual({ userId: 'alice' })
    expect(await ward.migrate()).toEqual([])
    await ward.close()
  })

  it('a directory path: a persistent PGlite that keeps sessions across restarts', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'sessionward-'))
    try {
      const first = await createWard({ database: directory })
      const { token } = await (await appFor(first).login()).json()
      await first.close()
      const second = await createWard({ database: directory })
      expect(await (await appFor(second).me(token)).json()).toEqual({ userId: 'alice' })
      await second.close()
    } finally {
      rmSync(directory, { recursive: true, force: true })
    }
  })

  it('a MikroORM instance without the session entity is refused with a clear message', async () => {
    const orm = await MikroORM.init({
      driver: PgliteDriver,
      dbName: 'memory://',
      entities: [],
      discovery: { warnWhenNoEntities: false },
    })
    try {
      await expect(createWard({ database: orm })).rejects.toThrow(
        /add `SessionEntity` from @sessionward\/server/,
      )
    } finally {
      await orm.close(true)
    }
  })

  it.each([[42], [''], [{}]])('an invalid value (%j) is refused', async (database) => {
    await expect(createWard({ database: database as never })).rejects.toThrow(WardOptionsError)
  })

  it('migrate() is idempotent on a shared ORM', async () => {
    const db = await testDatabase('PGlite')
    expect(await migrate(db.orm)).toEqual([])
    const tables = await db.sql<{ n: number }>(
      "select count(*)::int as n from information_schema.tables where table_name in ('sessionward_session', 'sessionward_migrations')",
    )
    expect(tables[0]?.n).toBe(2)
  })
})

describe('with the store down, requests fail closed with 503 store_unavailable', () => {
  it('PGlite closed under a live ward', async () => {
    const orm = await MikroORM.init({
      driver: PgliteDriver,
      dbName: 'memory://',
      entities: [(await import('./entity.ts')).SessionEntity],
    })
    await migrate(orm)
    const { lines, logger } = capturingLogger()
    const ward = await createWard({ database: orm, cacheTtl: 0, logger })
    const { login, me, sessions } = appFor(ward)
    const { token } = await (await login()).json()
    expect((await me(token)).status).toBe(200)
    await orm.close(true)
    for (const response of [await me(token), await sessions(token), await login()]) {
      expect(response.status).toBe(503)
      expect(await response.json()).toMatchObject({ error: 'store_unavailable' })
    }
    expect(lines.join('\n')).not.toContain(token)
  })

  it.skipIf(postgresSkipReason !== null)(
    `PostgreSQL on a closed port${postgresSkipReason ? ` (skipped: ${postgresSkipReason})` : ''}`,
    async () => {
      const { logger } = capturingLogger()
      const ward = await createWard({ database: 'postgres://postgres@127.0.0.1:1/none', logger })
      const { login, me } = appFor(ward)
      const response = await me(`swt_${'A'.repeat(43)}`)
      expect(response.status).toBe(503)
      expect(await response.json()).toMatchObject({ error: 'store_unavailable' })
      const loginResponse = await login()
      expect(loginResponse.status).toBe(503)
      await ward.close()
    },
  )

  it.skipIf(postgresSkipReason !== null)(
    `PostgreSQL dropped under a live ward${postgresSkipReason ? ` (skipped: ${postgresSkipReason})` : ''}`,
    async () => {
      const shared = await testDatabase('PostgreSQL')
      const url = new URL(String(shared.url))
      const name = `${url.pathname.slice(1)}_down`
      const admin = shared.orm.em.fork() as EntityManager
      await admin.execute(`drop database if exists "${name}" with (force)`)
      await admin.execute(`create database "${name}"`)
      url.pathname = `/${name}`
      const { lines, logger } = capturingLogger()
      const ward = await createWard({ database: url.toString(), cacheTtl: 0, logger })
      await ward.migrate()
      const { login, me } = appFor(ward)
      const { token } = await (await login()).json()
      expect((await me(token)).status).toBe(200)
      await admin.execute(`drop database "${name}" with (force)`)
      const response = await me(token)
      expect(response.status).toBe(503)
      expect(await response.json()).toMatchObject({ error: 'store_unavailable' })
      expect(lines.join('\n')).not.toMatch(/[0-9a-f]{64}|swt_/)
      await ward.close()
    },
  )
})
