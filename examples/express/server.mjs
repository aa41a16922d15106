import { createWard } from '@sessionward/server'
import { expressWard } from '@sessionward/server/express'
import express from 'express'
import { homePage, loginPage } from '../shared/pages.mjs'

// DATABASE_URL unset: embedded PGlite in memory. WARN_AFTER / EXPIRE_AFTER: idle seconds.
const ward = await createWard({
  database: process.env.DATABASE_URL,
  warnAfter: Number(process.env.WARN_AFTER ?? 840),
  expireAfter: Number(process.env.EXPIRE_AFTER ?? 900),
})
await ward.migrate()
const sw = expressWard(ward)

// Your users: look the user up in your own store and verify the password hash (argon2, scrypt).
async function checkPassword(username, password) {
  return username === 'alice' && password === 'alice' ? 'user-1' : null
}

const app = express()
app.set('trust proxy', 'loopback') // req.ip: X-Forwarded-For only from a proxy on this host
app.use(sw.middleware()) // req.session: the frozen session, or null
app.use('/session', sw.routes()) // ping, logout, devices, history, events, the script
app.post('/login', express.json(), async (req, res) => {
  const userId = await checkPassword(req.body?.username, req.body?.password)
  if (!userId)
    return res
      .status(401)
      .json({ error: 'invalid_credentials', message: 'wrong username or password' })
  res.json(await sw.signIn(req, res, userId)) // { token, session, evicted } and the cookie
})
app.get('/api/me', sw.requireSession(), (req, res) => res.json({ userId: req.session.userId }))
app.get('/login', (_req, res) => res.send(loginPage()))
app.get('/', (req, res) =>
  req.session ? res.send(homePage({ framework: 'Express' })) : res.redirect('/login'),
)
app.use(sw.errors()) // a refused sign-in (cross-site, over the session limit): the ward's JSON
app.listen(Number(process.env.PORT ?? 3000), '127.0.0.1')
