import { createServer } from 'node:http'
import express from 'express'
import { describe, expect, it } from 'vitest'
import { honoHost, listen, runAdapterCases, type StartHost } from '../test-support/adapter-cases.ts'
import { pgliteForEachTest } from '../test-support/db.ts'
import { createWard } from '../ward.ts'
import { expressWard } from './express.ts'

/** The cases' host app on Express 5, wired as the README shows. */
const expressHost: StartHost = (ward) => {
  const app = express()
  app.set('trust proxy', 'loopback')
  const sw = expressWard(ward)
  app.use(sw.middleware())
  app.use('/session', sw.routes())
  app.post('/login', express.json({ type: () => true }), async (req, res) => {
    res.cookie('app', '1', { path: '/' })
    const { token, session, evicted } = await sw.signIn(req, res, req.body.userId)
    res.json({ token, id: session.id, evicted })
  })
  app.get('/api/me', sw.requireSession(), (req, res) => res.json({ userId: req.session?.userId }))
  app.get('/api/poll', sw.requireSession(), (req, res) => res.json({ userId: req.session?.userId }))
  app.get('/whoami', (req, res) => res.json({ userId: req.session?.userId ?? null }))
  app.post('/api/me', sw.requireSession(), (req, res) => res.json({ userId: req.session?.userId }))
  app.use(sw.errors())
  return listen(createServer(app))
}

runAdapterCases('Hono (the reference)', honoHost)
runAdapterCases('Express', expressHost)

describe('Express specifics', () => {
  const database = pgliteForEachTest()

  it('a JSON body parser mounted before the routes does not break the ping', async () => {
    const ward = await createWard({ sweepInterval: 0, database: database().orm })
    const app = express()
    app.use(express.json())
    const sw = expressWard(ward)
    app.use('/session', sw.routes())
    app.post('/login', async (req, res) => res.json(await sw.signIn(req, res, 'alice')))
    const host = await listen(createServer(app))
    try {
      const login = await fetch(`${host.origin}/login`, { method: 'POST' })
      const { token } = (await login.json()) as { token: string }
      const ping = await fetch(`${host.origin}/session/ping`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: '{"idleFor":0}',
      })
      expect(ping.status).toBe(200)
      expect(await ping.json()).toMatchObject({ idleFor: 0 })
    } finally {
      await host.close()
      await ward.close()
    }
  })
})
