import { MikroORM } from '@mikro-orm/core'
import { PostgreSqlDriver } from '@mikro-orm/postgresql'
import type { EntityManager } from '@mikro-orm/sql'
import { createWard, migrate, SessionEntity, type WardEnv } from '@sessionward/server'
import { Hono } from 'hono'
import { Store } from '../packages/server/src/store.ts'
import { postgresSkipReason } from '../packages/server/src/test-support/postgres.ts'
import { skipOutsideCi } from '../packages/server/src/test-support/services.ts'

const ROWS = 100_000
const RUNS = 25
const TARGET_MS = 50

const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0

/**
 * The admin list on a table of 100,000 sessions in PostgreSQL: time to answer the first page
 * (JSON, 50 rows) through the admin route, and the plan PostgreSQL picks for it. Uses a fresh
 * database derived from DATABASE_URL, dropped afterwards.
 *
 * @example
 * const section = await benchAdmin() // markdown
 */
export async function benchAdmin(): Promise<string> {
  const title = `## Admin: first page of the session list, ${ROWS.toLocaleString('en')} rows (PostgreSQL)`
  const skip = skipOutsideCi('the admin bench', postgresSkipReason)
  if (skip) return `${title}\n\nSkipped: ${skip} (the figure is for PostgreSQL).`
  const base = String(process.env.DATABASE_URL)
  const url = new URL(base)
  const name = `${url.pathname.slice(1) || 'postgres'}_bench_admin`
  const server = await MikroORM.init({
    driver: PostgreSqlDriver,
    clientUrl: base,
    entities: [SessionEntity],
  })
  const admin = server.em.fork() as EntityManager
  await admin.execute(`drop database if exists "${name}" with (force)`)
  await admin.execute(`create database "${name}"`)
  url.pathname = `/${name}`
  const orm = await MikroORM.init({
    driver: PostgreSqlDriver,
    clientUrl: url.toString(),
    entities: [SessionEntity],
  })
  try {
    await migrate(orm)
    const em = () => orm.em.fork() as EntityManager
    // One statement: 100,000 sessions of 5,000 users over the last ~28 hours, 80 % ended.
    await em().execute(`
      insert into sessionward_session
        (id, user_id, token_hash, created_at, last_activity_at, expires_at, ended_at, end_reason, ip, last_ip, user_agent)
      select gen_random_uuid(), 'user-' || (i % 5000), md5(i::text) || md5((-i)::text),
             now() - i * interval '1 second', now() - i * interval '1 second' + interval '5 minutes',
             now() - i * interval '1 second' + interval '12 hours',
             case when i % 5 = 0 then null else now() - i * interval '1 second' + interval '10 minutes' end,
             case when i % 5 = 0 then null
                  else (array['logout','idle','absolute','revoked','evicted','admin'])[1 + i % 6] end,
             '203.0.113.' || (i % 250), '203.0.113.' || (i % 250),
             'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36'
        from generate_series(1, ${ROWS}) as i`)
    await em().execute('analyze sessionward_session')
    const ward = await createWard({ database: orm })
    const app = new Hono<WardEnv>()
    app.use('*', ward.middleware())
    app.post('/login', async (c) => c.json(await ward.createSession(c, 'admin')))
    app.route(
      '/admin/sessions',
      ward.adminRoutes({ authorize: (c) => c.var.session?.userId === 'admin' }),
    )
    const userAgent = 'sessionward-bench'
    const { token } = (await (
      await app.request('/login', { method: 'POST', headers: { 'user-agent': userAgent } })
    ).json()) as { token: string }
    const time = async (path: string, accept = 'application/json') => {
      const headers = { 'user-agent': userAgent, authorization: `Bearer ${token}`, accept }
      const samples: number[] = []
      for (let run = 0; run < RUNS + 3; run++) {
        const started = performance.now()
        const response = await app.request(path, { headers })
        await response.text()
        if (response.status !== 200) throw new Error(`${path}: ${response.status}`)
        if (run >= 3) samples.push(performance.now() - started)
      }
      return median(samples)
    }
    const chartTime = async () => {
      const samples: number[] = []
      for (let run = 0; run < 7; run++) {
        const started = performance.now()
        await new Store(orm).hourlyActivity(Date.now())
        if (run >= 2) samples.push(performance.now() - started)
      }
      return median(samples)
    }
    const firstPage = await time('/admin/sessions')
    const page = (await (
      await app.request('/admin/sessions', {
        headers: {
          'user-agent': userAgent,
          authorization: `Bearer ${token}`,
          accept: 'application/json',
        },
      })
    ).json()) as { nextCursor: string }
    const cases = [
      ['First page, no filter (JSON, 50 rows)', firstPage],
      ['Second page (cursor)', await time(`/admin/sessions?cursor=${page.nextCursor}`)],
      ['`?user=user-42`', await time('/admin/sessions?user=user-42')],
      ['`?live=true`', await time('/admin/sessions?live=true')],
      ['`?reason=idle&live=false`', await time('/admin/sessions?reason=idle&live=false')],
      [
        'HTML page (first page + 24 h chart, chart counts memoized 30 s)',
        await time('/admin/sessions', 'text/html'),
      ],
      ["The chart's counts alone, uncached (once per 30 s)", await chartTime()],
    ] as const
    const plan = await em().execute<Array<Record<string, string>>>(
      `explain select id from sessionward_session order by created_at desc, id desc limit 51`,
    )
    const planLine = Object.values(plan[1] ?? plan[0] ?? {})[0] ?? ''
    await ward.close()
    return [
      title,
      '',
      `${ROWS.toLocaleString('en')} rows inserted with one \`generate_series\` statement (5,000 users, 80 % ended, spread over ~28 h), then \`analyze\`. Each figure is the median of ${RUNS} requests through the admin route (\`app.request\`, in process: routing, authorization, SQL, JSON or HTML), after 3 warm-up requests.`,
      '',
      '| request | median ms |',
      '|---|---:|',
      ...cases.map(([label, ms]) => `| ${label} | ${ms.toFixed(2)} |`),
      '',
      `- First page: **${firstPage.toFixed(2)} ms** (target < ${TARGET_MS} ms: ${firstPage < TARGET_MS ? 'met' : 'NOT met'})`,
      `- Plan of the first page's scan: \`${planLine.trim()}\` (keyset pagination on \`(created_at desc, id desc)\`, no OFFSET)`,
    ].join('\n')
  } finally {
    await orm.close(true)
    await admin.execute(`drop database if exists "${name}" with (force)`)
    await server.close(true)
  }
}
