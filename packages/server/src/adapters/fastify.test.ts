import Fastify from 'fastify'
import { runAdapterCases, type StartHost } from '../test-support/adapter-cases.ts'
import { fastifyWard } from './fastify.ts'

/** The cases' host app on Fastify 5, wired as the README shows. */
const fastifyHost: StartHost = async (ward) => {
  const app = Fastify({ trustProxy: '127.0.0.1' })
  await app.register(fastifyWard, { ward, prefix: '/session' })
  app.post('/login', async (request, reply) => {
    const body = typeof request.body === 'string' ? JSON.parse(request.body) : request.body
    reply.header('set-cookie', 'app=1; Path=/')
    const created = await app.sessionward.signIn(request, reply, body.userId)
    if (!created) return
    return { token: created.token, id: created.session.id, evicted: created.evicted }
  })
  const me = { preHandler: app.sessionward.requireSession }
  app.get('/api/me', me, async (request) => ({ userId: request.session?.userId }))
  app.post('/api/me', me, async (request) => ({ userId: request.session?.userId }))
  app.get('/api/poll', me, async (request) => ({ userId: request.session?.userId }))
  app.get('/whoami', async (request) => ({ userId: request.session?.userId ?? null }))
  const origin = await app.listen({ host: '127.0.0.1', port: 0 })
  return { origin, close: () => app.close() }
}

runAdapterCases('Fastify', fastifyHost)
