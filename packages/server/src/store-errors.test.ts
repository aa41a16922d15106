import { randomUUID } from 'node:crypto'
import { HTTPException } from 'hono/http-exception'
import { beforeEach, describe, expect, it } from 'vitest'
import { atEdge } from './errors.ts'
import type { SessionRecord } from './session.ts'
import { Store } from './store.ts'
import { testApp } from './test-support/app.ts'
import {
  onEachDatabase,
  postgresSkipReason,
  type TestDatabase,
  testDatabase,
} from './test-support/db.ts'

/** What a failed store call answers, as the ward hands it to an app: status, body, Retry-After. */
async function answerOf(call: Promise<unknown>) {
  const error = await atEdge(call).then(
    () => {
      throw new Error('the call succeeded')
    },
    (error: unknown) => error,
  )
  expect(error).toBeInstanceOf(HTTPException)
  const response = (error as HTTPException).getResponse()
  return {
    status: response.status,
    body: await response.json(),
    retryAfter: response.headers.get('retry-after'),
  }
}

function capturingLogger() {
  const errors: string[] = []
  const write = () => undefined
  return {
    errors,
    logger: {
      info: write,
      warn: write,
      error: (...args: unknown[]) => void errors.push(args.join(' ')),
    },
  }
}

function row(id: string): SessionRecord {
  const now = new Date()
  return {
    id,
    userId: 'alice',
    tokenHash: randomUUID(),
    createdAt: now,
    lastActivityAt: now,
    expiresAt: now,
    endedAt: null,
    endReason: null,
    ip: null,
    lastIp: null,
    userAgent: 'test',
    detail: null,
    idp: null,
  }
}

onEachDatabase((open) => {
  let db: TestDatabase
  beforeEach(async () => {
    db = await open()
  })

  describe('defect 9: client input the store rejects is 400, only an unusable store is 503', () => {
    it('a NUL byte in the admin ?user= filter answers 400 invalid_request and logs no error', async () => {
      const { errors, logger } = capturingLogger()
      const app = await testApp(db, { logger })
      app.app.route(
        '/admin/sessions',
        app.ward.adminRoutes({ authorize: (c) => c.var.session?.userId === 'admin' }),
      )
      const { token } = await app.login('admin')
      for (const method of ['GET', 'DELETE']) {
        const response = await app.call('/admin/sessions?user=a%00b', {
          method,
          token,
          headers: { accept: 'application/json' },
        })
        expect(response.status, method).toBe(400)
        expect(response.headers.get('retry-after')).toBeNull()
        const body = await response.json()
        expect(body).toMatchObject({ error: 'invalid_request' })
        expect(body.message).toMatch(/NUL/)
      }
      expect(errors).toEqual([])
    })

    it('the store classifies: bad text or a conflict is 400, a statement it cannot run is 503 without Retry-After', async () => {
      const store = new Store(db.orm)
      const nul = await answerOf(store.query('select ? as v', ['a\u0000b']))
      expect(nul).toMatchObject({
        status: 400,
        body: { error: 'invalid_request' },
        retryAfter: null,
      })
      const badInt = await answerOf(store.query('select ?::int as n', ['abc']))
      expect(badInt).toMatchObject({
        status: 400,
        body: { error: 'invalid_request' },
        retryAfter: null,
      })
      const id = randomUUID()
      await store.insertSession({ record: row(id), expireAfter: 900 })
      const duplicate = await answerOf(store.insertSession({ record: row(id), expireAfter: 900 }))
      expect(duplicate).toMatchObject({ status: 400, body: { error: 'invalid_request' } })
      // A missing table (migrations not applied) is the server's fault: retrying will not help.
      const missing = await answerOf(store.query('select * from no_such_table', []))
      expect(missing).toMatchObject({
        status: 503,
        body: { error: 'store_unavailable' },
        retryAfter: null,
      })
      // The same rules hold inside a transaction.
      const inTx = await answerOf(
        store.transaction((tx) => tx.query('select ?::int as n', ['abc'])),
      )
      expect(inTx).toMatchObject({ status: 400, body: { error: 'invalid_request' } })
    })
  })
})

describe.skipIf(postgresSkipReason !== null)(
  `defect 9: an unreachable or timed-out store is 503 with Retry-After${postgresSkipReason ? ` (skipped: ${postgresSkipReason})` : ''}`,
  () => {
    it('a statement timeout', async () => {
      const pg = await testDatabase('PostgreSQL')
      const answer = await answerOf(
        new Store(pg.orm).transaction(async (tx) => {
          await tx.query('set local statement_timeout = 20', [])
          await tx.query('select pg_sleep(2)', [])
        }),
      )
      expect(answer).toMatchObject({
        status: 503,
        body: { error: 'store_unavailable' },
        retryAfter: '5',
      })
    })
  },
)
