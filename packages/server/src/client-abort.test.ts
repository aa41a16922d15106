import type { AddressInfo } from 'node:net'
import { serve } from '@hono/node-server'
import { beforeEach, describe, expect, it } from 'vitest'
import { CHROME_120, testApp } from './test-support/app.ts'
import { onEachDatabase, type TestDatabase } from './test-support/db.ts'
import { rawRequest } from './test-support/raw-http.ts'

type Line = { level: string; text: string }

function capturingLogger(withDebug: boolean) {
  const lines: Line[] = []
  const at = (level: string) => (text: string) => {
    lines.push({ level, text })
  }
  const logger = { info: at('info'), warn: at('warn'), error: at('error') }
  return { lines, logger: withDebug ? { ...logger, debug: at('debug') } : logger }
}

/** Serves a test app, sends a ping whose chunked body breaks off, and waits for the close. */
async function abortedPing(db: TestDatabase, logger: ReturnType<typeof capturingLogger>['logger']) {
  const { app, login } = await testApp(db, { logger })
  const { token } = await login('alice')
  const server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 })
  await new Promise<void>((resolve) => server.once('listening', () => resolve()))
  const { port } = server.address() as AddressInfo
  const head = [
    'POST /session/ping HTTP/1.1',
    `Host: 127.0.0.1:${port}`,
    `User-Agent: ${CHROME_120}`,
    `Authorization: Bearer ${token}`,
    'Transfer-Encoding: chunked',
  ]
  // The first chunk says 1 KB and sends 13 bytes; then the connection is reset.
  await rawRequest(port, Buffer.from(`${head.join('\r\n')}\r\n\r\n400\r\n{"idleFor": 1`), {
    ending: 'reset',
    timeoutMs: 10_000,
  })
  // A second request on a fresh connection: by its answer the server has handled the reset.
  const after = await rawRequest(
    port,
    Buffer.from(`GET /session/nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`),
    { timeoutMs: 10_000 },
  )
  expect(after.answer?.status).toBe(401)
  await new Promise<void>((resolve) => server.close(() => resolve()))
}

onEachDatabase((open) => {
  let db: TestDatabase
  beforeEach(async () => {
    db = await open()
  })

  describe('an upload the client breaks off (issue 14)', () => {
    it('is one debug line without a stack, never an error', async () => {
      const { lines, logger } = capturingLogger(true)
      await abortedPing(db, logger)
      await expect.poll(() => lines.filter(({ level }) => level === 'debug')).toHaveLength(1)
      const [debug] = lines.filter(({ level }) => level === 'debug')
      expect(debug?.text).toBe('sessionward: client aborted POST /session/ping before its end')
      expect(lines.filter(({ level }) => level === 'error' || level === 'warn')).toEqual([])
    })

    it('is not logged at all by a logger without debug', async () => {
      const { lines, logger } = capturingLogger(false)
      await abortedPing(db, logger)
      expect(lines.filter(({ level }) => level !== 'info')).toEqual([])
    })
  })
})
