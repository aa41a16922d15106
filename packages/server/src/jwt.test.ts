import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { decodeJwt, decodeProtectedHeader, SignJWT } from 'jose'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { WardOptionsError } from './errors.ts'
import { resolveJwtOptions } from './jwt-options.ts'
import { CHROME_120, FIREFOX_120, type TestApp, testApp } from './test-support/app.ts'
import { onEachDatabase, type TestDatabase } from './test-support/db.ts'

const START = Date.parse('2026-11-23T09:00:00Z')
const SECRET = randomBytes(32).toString('base64url')
const OTHER_SECRET = randomBytes(32).toString('base64url')

function at(seconds: number): void {
  vi.setSystemTime(START + seconds * 1000)
}

async function accessToken(app: TestApp, token: string): Promise<string> {
  const response = await app.call('/session/token', { method: 'POST', token })
  expect(response.status).toBe(200)
  const body = (await response.json()) as { access: string; expiresIn: number }
  return body.access
}

async function expectRefused(app: TestApp, jwt: string, error = 'unauthenticated') {
  const response = await app.call('/api/me', { token: jwt })
  expect(response.status).toBe(401)
  expect(response.headers.get('content-type')).toContain('application/json')
  expect(response.headers.get('www-authenticate')).toContain('error="invalid_token"')
  const body = (await response.json()) as Record<string, string>
  expect(body.error).toBe(error)
  return body
}

/** A token signed by someone holding `key`, with our claims unless overridden. */
function forge(
  sid: string,
  sub: string,
  header: Record<string, unknown> = { alg: 'HS256', typ: 'at+jwt' },
  claims: Record<string, unknown> = {},
) {
  const now = Math.floor(Date.now() / 1000)
  return new SignJWT({
    sid,
    sub,
    iat: now,
    exp: now + 300,
    jti: 'forged',
    ...claims,
  }).setProtectedHeader(header as { alg: string })
}

function encode(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url')
}

onEachDatabase((open) => {
  let db: TestDatabase
  beforeEach(async () => {
    db = await open()
    await db.reset()
    vi.useFakeTimers({ toFake: ['Date'] })
    at(0)
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  describe('issuing and accepting', () => {
    it('exchanges a session token for a short JWT with sub, sid, iat, exp, jti', async () => {
      const app = await testApp(db, { jwt: { secret: SECRET } })
      const { token, id } = await app.login('alice')
      const response = await app.call('/session/token', { method: 'POST', token })
      expect(response.status).toBe(200)
      expect(response.headers.get('cache-control')).toBe('no-store')
      const body = (await response.json()) as { access: string; expiresIn: number }
      expect(Object.keys(body).sort()).toEqual(['access', 'expiresIn'])
      expect(body.expiresIn).toBe(300)
      const claims = decodeJwt(body.access)
      expect(claims).toMatchObject({
        sub: 'alice',
        sid: id,
        iat: START / 1000,
        exp: START / 1000 + 300,
      })
      expect(claims.jti).toMatch(/^[0-9a-f-]{36}$/)
      expect(decodeProtectedHeader(body.access)).toEqual({ alg: 'HS256', typ: 'at+jwt' })
      const me = await app.call('/api/me', { token: body.access })
      expect(me.status).toBe(200)
      expect(await me.json()).toEqual({ userId: 'alice' })
    })

    it('writes iss and aud when configured and caps exp at the session’s absolute end', async () => {
      const app = await testApp(db, {
        maxAge: 120,
        warnAfter: 30,
        expireAfter: 60,
        touchInterval: 10,
        jwt: { secret: SECRET, issuer: 'https://app.example', audience: 'api' },
      })
      const { token } = await app.login('alice')
      at(20)
      const claims = decodeJwt(await accessToken(app, token))
      expect(claims).toMatchObject({
        iss: 'https://app.example',
        aud: 'api',
        exp: START / 1000 + 120,
      })
    })

    it.each([
      ['EdDSA', () => generateKeyPairSync('ed25519')],
      ['ES256', () => generateKeyPairSync('ec', { namedCurve: 'P-256' })],
      ['RS256', () => generateKeyPairSync('rsa', { modulusLength: 2048 })],
    ] as const)('signs and verifies with %s keys', async (alg, pair) => {
      const { privateKey, publicKey } = pair()
      const app = await testApp(db, {
        jwt: {
          privateKey: privateKey.export({ format: 'pem', type: 'pkcs8' }) as string,
          publicKey,
        },
      })
      const { token } = await app.login('alice')
      const access = await accessToken(app, token)
      expect(decodeProtectedHeader(access).alg).toBe(alg)
      expect((await app.call('/api/me', { token: access })).status).toBe(200)
    })

    it('takes a JWT only as a Bearer header, even once it is verified and cached', async () => {
      const app = await testApp(db, { jwt: { secret: SECRET } })
      const { token } = await app.login('alice')
      const access = await accessToken(app, token)
      expect((await app.call('/api/me', { token: access })).status).toBe(200)
      const asCookie = await app.call('/api/me', {
        headers: { cookie: `__Host-sessionward=${access}` },
      })
      expect(asCookie.status).toBe(401)
      expect(await asCookie.json()).toMatchObject({ error: 'unauthenticated' })
      const asToken = await app.call('/api/me', { headers: { authorization: `Token ${access}` } })
      expect(asToken.status).toBe(401)
      expect(await asToken.json()).toMatchObject({ error: 'unauthenticated' })
    })

    it('answers 404 on POST /session/token when JWT mode is off', async () => {
      const app = await testApp(db)
      const { token } = await app.login('alice')
      const response = await app.call('/session/token', { method: 'POST', token })
      expect(response.status).toBe(404)
      expect(await response.json()).toMatchObject({ error: 'not_found' })
    })

    it('does not take a JWT where JWT mode is off, nor a JWT to renew itself', async () => {
      const off = await testApp(db)
      const { token } = await off.login('alice')
      const forged = await forge('00000000-0000-4000-8000-000000000000', 'alice').sign(
        Buffer.from(SECRET),
      )
      await expectRefused(off, forged)
      const on = await testApp(db, { jwt: { secret: SECRET } })
      const access = await accessToken(on, token)
      const renew = await on.call('/session/token', { method: 'POST', token: access })
      expect(renew.status).toBe(401)
      expect(await renew.json()).toMatchObject({ error: 'unauthenticated' })
    })
  })

  describe('refuses every token it did not issue as is', () => {
    it('tampered payload, wrong key, alg none, missing typ → 401 JSON', async () => {
      const app = await testApp(db, { jwt: { secret: SECRET } })
      const { token, id } = await app.login('alice')
      const access = await accessToken(app, token)
      // Verified once (and remembered): its tampered copies must still be checked in full.
      expect((await app.call('/api/me', { token: access })).status).toBe(200)
      const [header, , signature] = access.split('.')
      const tampered = `${header}.${encode({ ...decodeJwt(access), sub: 'admin' })}.${signature}`
      await expectRefused(app, tampered)
      await expectRefused(app, await forge(id, 'alice').sign(Buffer.from(OTHER_SECRET)))
      const none = `${encode({ alg: 'none', typ: 'at+jwt' })}.${encode(decodeJwt(access))}.`
      await expectRefused(app, none)
      await expectRefused(app, `${none}${signature}`)
      // Our key, our claims, but not typed as an access token (an ID token, say).
      await expectRefused(app, await forge(id, 'alice', { alg: 'HS256' }).sign(Buffer.from(SECRET)))
      // The session is fine: only the forged tokens were refused.
      expect((await app.call('/api/me', { token: access })).status).toBe(200)
    })

    it('an expired JWT → 401, while its session lives on', async () => {
      const app = await testApp(db, { jwt: { secret: SECRET, accessTtl: 60 } })
      const { token } = await app.login('alice')
      const access = await accessToken(app, token)
      at(59)
      expect((await app.call('/api/me', { token: access })).status).toBe(200)
      at(60)
      const body = await expectRefused(app, access)
      expect(body.message).toContain('expired')
      expect((await app.call('/api/me', { token })).status).toBe(200)
    })

    it('HS/RS confusion: an HS256 token signed with the RSA public key → 401', async () => {
      const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
      const app = await testApp(db, { jwt: { privateKey } })
      const { token, id } = await app.login('alice')
      await accessToken(app, token)
      const pem = publicKey.export({ format: 'pem', type: 'spki' }) as string
      await expectRefused(app, await forge(id, 'alice').sign(Buffer.from(pem)))
      const der = publicKey.export({ format: 'der', type: 'spki' })
      await expectRefused(app, await forge(id, 'alice').sign(der))
      // And the other way round: an RS256 token at an HS256 ward.
      const hs = await testApp(db, { jwt: { secret: SECRET } })
      await expectRefused(
        hs,
        await forge(id, 'alice', { alg: 'RS256', typ: 'at+jwt' }).sign(privateKey),
      )
    })

    it('wrong or missing aud / iss → 401', async () => {
      const jwt = { secret: SECRET, issuer: 'https://app.example', audience: 'api' }
      const app = await testApp(db, { jwt })
      const { token, id } = await app.login('alice')
      expect((await app.call('/api/me', { token: await accessToken(app, token) })).status).toBe(200)
      const key = Buffer.from(SECRET)
      const good = { iss: jwt.issuer, aud: jwt.audience }
      expect(
        (await app.call('/api/me', { token: await forge(id, 'alice', undefined, good).sign(key) }))
          .status,
      ).toBe(200)
      for (const claims of [
        { ...good, aud: 'other' },
        { ...good, iss: 'https://evil.example' },
        { iss: jwt.issuer },
        { aud: jwt.audience },
      ]) {
        await expectRefused(app, await forge(id, 'alice', undefined, claims).sign(key))
      }
    })

    it('key rotation: old kid still verifies, unknown or missing kid → 401', async () => {
      const old = await testApp(db, { jwt: { secret: OTHER_SECRET, kid: 'k1' } })
      const { token, id } = await old.login('alice')
      const oldAccess = await accessToken(old, token)
      expect(decodeProtectedHeader(oldAccess).kid).toBe('k1')
      const app = await testApp(db, {
        jwt: { secret: SECRET, kid: 'k2', verificationKeys: [{ kid: 'k1', secret: OTHER_SECRET }] },
      })
      expect(decodeProtectedHeader(await accessToken(app, token)).kid).toBe('k2')
      expect((await app.call('/api/me', { token: oldAccess })).status).toBe(200)
      const signed = (kid?: string, secret = SECRET) =>
        forge(id, 'alice', { alg: 'HS256', typ: 'at+jwt', ...(kid ? { kid } : {}) }).sign(
          Buffer.from(secret),
        )
      expect((await app.call('/api/me', { token: await signed('k2') })).status).toBe(200)
      await expectRefused(app, await signed('k3'))
      await expectRefused(app, await signed())
      // A known kid does not lend its key to a token signed with another one.
      await expectRefused(app, await signed('k1', SECRET))
    })

    it('a JWT naming another user than its session’s → 401', async () => {
      const app = await testApp(db, { jwt: { secret: SECRET } })
      const { id } = await app.login('alice')
      await expectRefused(app, await forge(id, 'mallory').sign(Buffer.from(SECRET)))
    })
  })

  describe('a JWT lives only as long as its session', () => {
    it('revoked, logged out, evicted or idle → 401 session_ended with the reason, at once', async () => {
      const app = await testApp(db, {
        jwt: { secret: SECRET },
        warnAfter: 60,
        expireAfter: 120,
        maxSessions: 1,
      })
      const first = await app.login('alice')
      const firstAccess = await accessToken(app, first.token)
      const second = await app.login('alice')
      expect((await expectRefused(app, firstAccess, 'session_ended')).reason).toBe('evicted')

      const secondAccess = await accessToken(app, second.token)
      const revoke = await app.call(`/session/sessions/${second.id}`, {
        method: 'DELETE',
        token: second.token,
      })
      expect(revoke.status).toBe(204)
      expect((await expectRefused(app, secondAccess, 'session_ended')).reason).toBe('revoked')

      const third = await app.login('bob')
      const thirdAccess = await accessToken(app, third.token)
      expect(
        (await app.call('/session/logout', { method: 'POST', token: third.token })).status,
      ).toBe(204)
      expect((await expectRefused(app, thirdAccess, 'session_ended')).reason).toBe('logout')

      const fourth = await app.login('carol')
      const fourthAccess = await accessToken(app, fourth.token)
      at(120)
      expect((await expectRefused(app, fourthAccess, 'session_ended')).reason).toBe('idle')
      const [row] = await db.sql<{ end_reason: string }>(
        'select end_reason from sessionward_session where id = ?',
        [fourth.id],
      )
      expect(row?.end_reason).toBe('idle')
    })

    it('a session ended on another instance stops its JWTs there too', async () => {
      const a = await testApp(db, { jwt: { secret: SECRET } })
      const b = await testApp(db, { jwt: { secret: SECRET } })
      const { token, id } = await a.login('alice')
      const access = await accessToken(a, token)
      expect((await b.call('/api/me', { token: access })).status).toBe(200)
      await a.ward.endSession(id, 'admin')
      // b holds the session in its cache; the cache TTL (5 s) bounds how long it may trust it.
      at(5)
      expect((await expectRefused(b, access, 'session_ended')).reason).toBe('admin')
    })

    it('a JWT from another user agent ends the session (user_agent_changed)', async () => {
      const app = await testApp(db, { jwt: { secret: SECRET } })
      const { token } = await app.login('alice', CHROME_120)
      const access = await accessToken(app, token)
      const response = await app.call('/api/me', { token: access, userAgent: FIREFOX_120 })
      expect(response.status).toBe(401)
      expect(await response.json()).toMatchObject({ reason: 'user_agent_changed' })
      expect((await app.call('/api/me', { token })).status).toBe(401)
    })

    it('JWT requests count as activity, except on passive routes and the token route', async () => {
      const app = await testApp(db, {
        jwt: { secret: SECRET, accessTtl: 600 },
        warnAfter: 60,
        expireAfter: 120,
      })
      const { token } = await app.login('alice')
      const access = await accessToken(app, token)
      at(100)
      expect((await app.call('/api/me', { token: access })).status).toBe(200)
      at(200)
      expect((await app.call('/api/poll', { token: access })).status).toBe(200)
      at(219)
      // Getting a new access token is bookkeeping, not activity.
      expect((await app.call('/session/token', { method: 'POST', token })).status).toBe(200)
      at(220)
      expect((await expectRefused(app, access, 'session_ended')).reason).toBe('idle')
    })
  })

  describe('rotateOnRefresh', () => {
    it('returns a new session token, retires the old one, and ends the session on reuse', async () => {
      const ends: string[] = []
      const app = await testApp(db, {
        jwt: { secret: SECRET, rotateOnRefresh: true },
        hooks: { onSessionEnd: (_s, reason) => void ends.push(reason) },
      })
      const { token, id } = await app.login('alice')
      const response = await app.call('/session/token', { method: 'POST', token })
      expect(response.status).toBe(200)
      const body = (await response.json()) as { access: string; token: string }
      expect(body.token).toMatch(/^swt_/)
      expect(body.token).not.toBe(token)
      expect((await app.call('/api/me', { token: body.token })).status).toBe(200)
      expect((await app.call('/api/me', { token: body.access })).status).toBe(200)
      // The second refresh chains on the new token.
      const again = (await (
        await app.call('/session/token', { method: 'POST', token: body.token })
      ).json()) as { token: string }
      expect((await app.call('/api/me', { token: again.token })).status).toBe(200)

      // The first token comes back (stolen): the whole session ends.
      const reuse = await app.call('/api/me', { token })
      expect(reuse.status).toBe(401)
      expect(await reuse.json()).toMatchObject({ error: 'session_ended', reason: 'refresh_reuse' })
      for (const t of [again.token, body.access]) {
        expect((await expectRefused(app, t, 'session_ended')).reason).toBe('refresh_reuse')
      }
      const [row] = await db.sql<{ end_reason: string }>(
        'select end_reason from sessionward_session where id = ?',
        [id],
      )
      expect(row?.end_reason).toBe('refresh_reuse')
      expect(ends).toEqual(['refresh_reuse'])
      // Reused again after the end: still refused, never a second end.
      expect((await app.call('/api/me', { token })).status).toBe(401)
      expect(ends).toEqual(['refresh_reuse'])
    })

    it('refreshing twice with the same token after the reuse interval is reuse', async () => {
      const app = await testApp(db, { jwt: { secret: SECRET, rotateOnRefresh: true } })
      const { token } = await app.login('alice')
      expect((await app.call('/session/token', { method: 'POST', token })).status).toBe(200)
      at(10)
      const second = await app.call('/session/token', { method: 'POST', token })
      expect(second.status).toBe(401)
      expect(await second.json()).toMatchObject({ reason: 'refresh_reuse' })
    })

    it('a JWT stays valid across rotations, on another instance too', async () => {
      const a = await testApp(db, { jwt: { secret: SECRET, rotateOnRefresh: true } })
      const b = await testApp(db, { jwt: { secret: SECRET, rotateOnRefresh: true } })
      const { token } = await a.login('alice')
      const refresh = async (t: string) =>
        (await (await a.call('/session/token', { method: 'POST', token: t })).json()) as {
          access: string
          token: string
        }
      const first = await refresh(token)
      expect((await b.call('/api/me', { token: first.access })).status).toBe(200)
      const second = await refresh(first.token)
      expect((await a.call('/api/me', { token: first.access })).status).toBe(200)
      // b's cached view of the session expires after cacheTtl; then it finds the new token.
      at(6)
      expect((await b.call('/api/me', { token: first.access })).status).toBe(200)
      expect((await b.call('/api/me', { token: second.token })).status).toBe(200)
    })

    it('with the cookie, the new token goes in the cookie and never in the body', async () => {
      const app = await testApp(db, { jwt: { secret: SECRET, rotateOnRefresh: true } })
      const { token } = await app.login('alice')
      const response = await app.app.request('http://localhost/session/token', {
        method: 'POST',
        headers: {
          'user-agent': CHROME_120,
          cookie: `__Host-sessionward=${token}`,
          origin: 'http://localhost',
        },
      })
      expect(response.status).toBe(200)
      const body = (await response.json()) as Record<string, unknown>
      expect(Object.keys(body).sort()).toEqual(['access', 'expiresIn'])
      const cookie = response.headers.get('set-cookie') ?? ''
      const fresh = /__Host-sessionward=(swt_[A-Za-z0-9_-]{43})/.exec(cookie)?.[1]
      expect(fresh).toBeDefined()
      expect(cookie).toContain('HttpOnly')
      expect((await app.call('/api/me', { token: fresh })).status).toBe(200)
    })
  })
})

describe('jwt option validation', () => {
  const fails = (jwt: unknown, message: RegExp) =>
    expect(() => resolveJwtOptions(jwt as never)).toThrow(message)

  it('names the bad option', () => {
    fails(undefined, /jwt must be an object/)
    fails({}, /needs a secret/)
    fails({ secret: 'short' }, /at least 32 bytes/)
    fails({ secret: SECRET, alg: 'none' }, /alg must be one of/)
    fails({ secret: SECRET, alg: 'ES256' }, /needs privateKey\/publicKey/)
    fails({ secret: SECRET, accessTtl: 0 }, /accessTtl/)
    fails({ secret: SECRET, accessTtl: 1.5 }, /accessTtl/)
    fails({ secret: SECRET, issuer: '' }, /issuer/)
    fails({ secret: SECRET, rotateOnRefresh: 'yes' }, /rotateOnRefresh/)
    fails({ secret: SECRET, verificationKeys: [{ secret: OTHER_SECRET }] }, /needs a kid/)
    fails(
      { secret: SECRET, kid: 'a', verificationKeys: [{ kid: 'a', secret: OTHER_SECRET }] },
      /used twice/,
    )
    fails({ privateKey: 'not a key' }, /privateKey is not a usable private key/)
    const ed = generateKeyPairSync('ed25519')
    fails({ privateKey: ed.privateKey, alg: 'ES256' }, /alg is ES256 but the key is for EdDSA/)
    fails({ publicKey: ed.publicKey }, /needs a privateKey/)
    const small = generateKeyPairSync('ec', { namedCurve: 'secp256k1' })
    fails({ privateKey: small.privateKey }, /unsupported key type/)
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    fails({ privateKey: ed.privateKey, publicKey: other.publicKey }, /different types/)
    expect(() => resolveJwtOptions({ secret: 'short' })).toThrow(WardOptionsError)
  })

  it('accepts a JWK and infers the algorithm from the key', () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    const resolved = resolveJwtOptions({ privateKey: privateKey.export({ format: 'jwk' }) })
    expect(resolved.signing.alg).toBe('ES256')
    expect(resolved.accessTtl).toBe(300)
    expect(resolved.rotateOnRefresh).toBe(false)
  })
})
