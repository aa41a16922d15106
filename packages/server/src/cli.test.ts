import { execFile, spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { MikroORM } from '@mikro-orm/core'
import { PostgreSqlDriver } from '@mikro-orm/postgresql'
import type { EntityManager } from '@mikro-orm/sql'
import { Hono } from 'hono'
import { describe, expect, it } from 'vitest'
import { migrate } from './database.ts'
import { SessionEntity } from './entity.ts'
import type { WardEnv } from './middleware.ts'
import { migrationsList } from './migrations/index.ts'
import { CHROME_120 } from './test-support/app.ts'
import { leakCheckedLogger } from './test-support/leaks.ts'
import { freshDatabase, postgresSkipReason, psqlSkipReason } from './test-support/postgres.ts'
import { createWard } from './ward.ts'

const CLI = fileURLToPath(new URL('./cli.ts', import.meta.url))
const ALL = migrationsList.map((migration) => migration.name)
const BASE_URL = process.env.DATABASE_URL

interface Run {
  code: number
  stdout: string
  stderr: string
}

/** Runs the CLI from source as `npx sessionward` runs the built one, with only the given env. */
async function sessionward(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const { PATH = '' } = process.env
  try {
    const { stdout, stderr } = await promisify(execFile)(
      process.execPath,
      ['--conditions=source', CLI, ...args],
      { env: { PATH, ...env } },
    )
    return { code: 0, stdout, stderr }
  } catch (error) {
    const { code, stdout, stderr } = error as Run
    return { code, stdout, stderr }
  }
}

/** An empty PostgreSQL database of its own, beside the suite's. */
function emptyDatabase(suffix: string): Promise<string> {
  const base = String(BASE_URL)
  return freshDatabase(base, `${new URL(base).pathname.slice(1)}_cli_${suffix}`)
}

async function withOrm<T>(url: string, use: (orm: MikroORM) => Promise<T>): Promise<T> {
  const orm = await MikroORM.init({
    driver: PostgreSqlDriver,
    clientUrl: url,
    entities: [SessionEntity],
  })
  try {
    return await use(orm)
  } finally {
    await orm.close(true)
  }
}

function sql<T>(orm: MikroORM, query: string): Promise<T[]> {
  return (orm.em.fork() as EntityManager).execute<T[]>(query)
}

/** Applies a script the way the README tells a DBA to. */
function applyWithPsql(url: string, script: string) {
  const { hostname, port, pathname, username } = new URL(url)
  const database = pathname.slice(1)
  const args = ['-h', hostname, '-p', port || '5432', '-U', username || 'postgres', '-d', database]
  return spawnSync('psql', [...args, '-q', '-v', 'ON_ERROR_STOP=1', '-f', '-'], { input: script })
}

/** Where `url` points, as the CLI prints it: host:port/database. */
function address(url: string): string {
  const { hostname, port, pathname } = new URL(url)
  return `${hostname}:${port || '5432'}${pathname}`
}

describe('npx sessionward: usage', () => {
  it('--help prints the usage and exits 0', async () => {
    const run = await sessionward(['--help'])
    expect(run.code).toBe(0)
    expect(run.stdout).toMatch(/^Usage: sessionward migrate \[--database URL\] \[--sql\]/)
  })

  it.each([
    [['migrate', '--bogus'], /Unknown option '--bogus'/],
    [['migrate', '--database'], /--database <value>/],
    [['frobnicate'], /unknown command: frobnicate/],
    [[], /no command/],
    [['migrate', '--database', 'mysql://db/app'], /must be a postgres:\/\/ URL/],
    [['migrate'], /no database: pass --database postgres:\/\/… or set DATABASE_URL/],
  ])('%j exits 2 with a clear message', async (args, message) => {
    const run = await sessionward(args)
    expect(run).toMatchObject({ code: 2, stdout: '' })
    expect(run.stderr).toMatch(message)
    expect(run.stderr).toContain('Run `sessionward --help` for usage.')
  })
})

describe.skipIf(postgresSkipReason !== null)(
  `npx sessionward migrate on PostgreSQL${postgresSkipReason ? ` (skipped: ${postgresSkipReason})` : ''}`,
  () => {
    it('applies every migration to an empty database (DATABASE_URL), then finds it current', async () => {
      const url = await emptyDatabase('apply')
      const first = await sessionward(['migrate'], { DATABASE_URL: url })
      expect(first).toEqual({
        code: 0,
        stdout: `Applied ${ALL.length} migrations to ${address(url)}:\n${ALL.map((name) => `  ${name}\n`).join('')}`,
        stderr: '',
      })
      const second = await sessionward(['migrate', '--database', url])
      expect(second.stdout).toBe(`The schema of ${address(url)} is current; nothing to apply.\n`)
      expect(await withOrm(url, migrate)).toEqual([])
    })

    it('--sql with a database prints only its pending migrations and writes nothing', async () => {
      const url = await emptyDatabase('pending')
      const run = await sessionward(['migrate', '--sql', '--database', url])
      expect(run.code).toBe(0)
      for (const name of ALL) expect(run.stdout).toContain(`values ('${name}')`)
      const tables = await withOrm(url, (orm) =>
        sql(orm, "select 1 from information_schema.tables where table_schema = 'public'"),
      )
      expect(tables).toEqual([])
      await sessionward(['migrate', '--database', url])
      const current = await sessionward(['migrate', '--sql'], { DATABASE_URL: url })
      expect(current.stdout).toBe(
        `-- sessionward: the schema of ${address(url)} is current; nothing to apply\n`,
      )
    })
  },
)

describe.skipIf(psqlSkipReason !== null)(
  `npx sessionward migrate --sql applied by psql${psqlSkipReason ? ` (skipped: ${psqlSkipReason})` : ''}`,
  () => {
    it('makes the schema current for migrate() and serves sessions', async () => {
      const script = await sessionward(['migrate', '--sql'])
      expect(script.code).toBe(0)
      const url = await emptyDatabase('psql')
      expect(applyWithPsql(url, script.stdout).status).toBe(0)
      await withOrm(url, async (orm) => {
        expect(await migrate(orm)).toEqual([])
        const names = await sql<{ name: string }>(
          orm,
          'select name from sessionward_migrations order by id',
        )
        expect(names.map((row) => row.name)).toEqual(ALL)
      })
      const ward = await createWard({
        database: url,
        logger: leakCheckedLogger({ info: () => {}, warn: () => {}, error: () => {} }),
      })
      try {
        const app = new Hono<WardEnv>()
        app.post('/login', async (c) => c.json(await ward.createSession(c, 'alice')))
        app.use('/api/*', ward.requireSession())
        app.get('/api/me', (c) => c.json({ userId: c.var.session?.userId }))
        const headers = { 'user-agent': CHROME_120 }
        const { token } = await (await app.request('/login', { method: 'POST', headers })).json()
        const me = await app.request('/api/me', {
          headers: { ...headers, authorization: `Bearer ${token}` },
        })
        expect(await me.json()).toEqual({ userId: 'alice' })
      } finally {
        await ward.close()
      }
    })

    it('creates the history table with the columns the Migrator gives it', async () => {
      const columns = `select column_name, data_type, is_nullable, column_default, character_maximum_length, datetime_precision
        from information_schema.columns where table_name = 'sessionward_migrations' order by ordinal_position`
      const byMigrator = await emptyDatabase('shape_migrator')
      const byScript = await emptyDatabase('shape_script')
      await withOrm(byMigrator, migrate)
      const script = await sessionward(['migrate', '--sql'])
      expect(applyWithPsql(byScript, script.stdout).status).toBe(0)
      const expected = await withOrm(byMigrator, (orm) => sql(orm, columns))
      expect(expected).toHaveLength(3)
      expect(await withOrm(byScript, (orm) => sql(orm, columns))).toEqual(expected)
    })
  },
)
