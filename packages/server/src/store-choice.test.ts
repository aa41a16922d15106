import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { explainDriverImport, storeTarget } from './database.ts'
import { WardOptionsError } from './errors.ts'
import type { WardOptions } from './options.ts'
import { postgresSkipReason, testDatabase } from './test-support/db.ts'
import { leakCheckedLogger } from './test-support/leaks.ts'
import { createWard } from './ward.ts'

function capturingLogger() {
  const lines: { level: string; line: string }[] = []
  const at = (level: string) => (message: unknown) =>
    void lines.push({ level, line: String(message) })
  const logger = { info: at('info'), warn: at('warn'), error: at('error') }
  return { lines, logger: leakCheckedLogger(logger) }
}

async function startUpLines(database?: WardOptions['database']) {
  const { lines, logger } = capturingLogger()
  const ward = await createWard({ database, logger })
  await ward.close()
  return lines
}

// A fresh PGlite takes half a minute to boot on a loaded machine.
const BOOT = 120_000

describe('createWard logs once, at info, which store it uses', () => {
  it(
    'embedded PGlite in memory: says sessions are lost on restart and how to keep them',
    async () => {
      expect(await startUpLines()).toEqual([
        {
          level: 'info',
          line: 'sessionward: store: embedded PGlite in memory; sessions are lost on restart (set `database` to a directory path or a postgres:// URL to keep them)',
        },
      ])
    },
    BOOT,
  )

  it(
    'embedded PGlite at a path',
    async () => {
      const directory = mkdtempSync(join(tmpdir(), 'sessionward-'))
      try {
        expect(await startUpLines(directory)).toEqual([
          { level: 'info', line: `sessionward: store: embedded PGlite at ${directory}` },
        ])
      } finally {
        rmSync(directory, { recursive: true, force: true })
      }
    },
    BOOT,
  )

  it('the app’s MikroORM instance', async () => {
    const { orm } = await testDatabase('PGlite')
    expect(await startUpLines(orm)).toEqual([
      {
        level: 'info',
        line: "sessionward: store: the app's MikroORM instance (PgliteDriver); apply the schema with ward.migrate() or npx sessionward migrate",
      },
    ])
  })

  it.skipIf(postgresSkipReason !== null)(
    `PostgreSQL host:port/database, never the user or password${postgresSkipReason ? ` (skipped: ${postgresSkipReason})` : ''}`,
    async () => {
      const { url } = await testDatabase('PostgreSQL')
      const withPassword = new URL(String(url))
      withPassword.username = 'postgres'
      withPassword.password = 'pw-must-not-be-logged'
      withPassword.search = '?application_name=sessionward'
      const lines = await startUpLines(withPassword.toString())
      const { hostname, port, pathname } = withPassword
      expect(lines).toEqual([
        {
          level: 'info',
          line: `sessionward: store: PostgreSQL at ${hostname}:${port || '5432'}${pathname}`,
        },
      ])
      expect(JSON.stringify(lines)).not.toMatch(/pw-must-not-be-logged|postgres@|application_name/)
    },
  )
})

describe('the database option’s URL scheme', () => {
  it.each([
    ['mysql://app:pw@db/app', 'mysql'],
    ['sqlite://sessions.db', 'sqlite'],
    ['redis://cache:6379', 'redis'],
    ['idb://sessions', 'idb'],
  ])('%s is refused with a WardOptionsError naming the scheme', async (database, scheme) => {
    const refusal = createWard({ database })
    await expect(refusal).rejects.toThrow(WardOptionsError)
    await expect(refusal).rejects.toThrow(`the "${scheme}://" scheme is not supported`)
  })

  it.each([
    ['postgres://db/app', { kind: 'postgres', url: 'postgres://db/app' }],
    ['postgresql://db/app', { kind: 'postgres', url: 'postgresql://db/app' }],
    ['memory://', { kind: 'memory' }],
    ['file:///var/lib/sessionward', { kind: 'directory', path: '/var/lib/sessionward' }],
    ['./data/sessions', { kind: 'directory', path: './data/sessions' }],
  ])('%s is accepted as %j', (database, target) => {
    expect(storeTarget(database)).toEqual(target)
  })
})

describe('a missing optional driver package', () => {
  const notFound = (name: string, code = 'ERR_MODULE_NOT_FOUND') =>
    Object.assign(new Error(`Cannot find package '${name}' imported from /app/server.js`), {
      code,
    })

  it.each([
    ['@mikro-orm/pglite', 'ERR_MODULE_NOT_FOUND'],
    ['@electric-sql/pglite', 'ERR_MODULE_NOT_FOUND'],
    ['@electric-sql/pglite', 'ERR_PACKAGE_PATH_NOT_EXPORTED'],
  ])('embedded PGlite without %s (%s) says what to install', (name, code) => {
    const explain = () => explainDriverImport(notFound(name, code), 'PGlite')
    expect(explain).toThrow(WardOptionsError)
    expect(explain).toThrow(
      'sessionward: embedded PGlite (no `database`, or a directory path) needs its optional packages: run `npm install @electric-sql/pglite @mikro-orm/pglite`, or pass a postgres:// URL as `database`',
    )
  })

  it('a postgres:// URL without @mikro-orm/postgresql says what to install', () => {
    expect(() => explainDriverImport(notFound('@mikro-orm/postgresql'), 'PostgreSQL')).toThrow(
      'sessionward: a postgres:// URL needs the PostgreSQL driver: run `npm install @mikro-orm/postgresql`',
    )
  })

  it.each([
    ['another package missing', notFound('left-pad')],
    ['a failure inside the driver', Object.assign(new Error('wasm failed'), { code: 'EIO' })],
    ['a thrown string', 'boom'],
  ])('%s is rethrown as it is', (_, error) => {
    expect(() => explainDriverImport(error, 'PGlite')).toThrow(
      error instanceof Error ? error : String(error),
    )
    try {
      explainDriverImport(error, 'PGlite')
    } catch (thrown) {
      expect(thrown).toBe(error)
    }
  })
})
