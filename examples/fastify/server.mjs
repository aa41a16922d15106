import { createWard } from '@sessionward/server'
import { fastifyWard } from '@sessionward/server/fastify'
import Fastify from 'fastify'
import { homePage, loginPage } from '../shared/pages.mjs'

// DATABASE_URL unset: embedded PGlite in memory. WARN_AFTER / EXPIRE_AFTER: idle seconds.
const ward = await createWard({
  database: process.env.DATABASE_URL,
  warnAfter: Number(process.env.WARN_AFTER ?? 840),
  expireAfter: Number(process.env.EXPIRE_AFTER ?? 900),
})
await ward.migrate()

// Your users: look the user up in your own store and verify the password hash (argon2, scrypt).
async function checkPassword(username, password) {
  return username === 'alice' && password === 'alice' ? 'user-1' : null
}

const app = Fastify({ trustProxy: '127.0.0.1' }) // request.ip: X-Forwarded-For only from this host
// request.session (the frozen session, or null); ping, logout, devices, history, events, script
await app.register(fastifyWard, { ward, prefix: '/session' })
app.post('/login', async (request, reply) => {
  const userId = await checkPassword(request.body?.username, request.body?.password)
  if (!userId) {
    return reply
      .code(401)
      .send({ error: 'invalid_credentials', message: 'wrong username or password' })
  }
  // { token, session, evicted } and the cookie; a refused sign-in is answered with the ward's JSON
  return app.sessionward.signIn(request, reply, userId)
})
const guarded = { preHandler: app.sessionward.requireSession }
app.get('/api/me', guarded, async (request) => ({ userId: request.session.userId }))
app.get('/login', async (_request, reply) => reply.type('text/html').send(loginPage()))
app.get('/', async (request, reply) =>
  request.session
    ? reply.type('text/html').send(homePage({ framework: 'Fastify' }))
    : reply.redirect('/login'),
)
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 3000) })
