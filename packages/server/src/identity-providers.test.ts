import { decodeJwt, generateKeyPair, SignJWT } from 'jose'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { KEY_FETCH_TIMEOUT, KEY_REFETCH_COOLDOWN } from './identity-providers.ts'
import {
  BACKCHANNEL_LOGOUT_EVENT,
  CAEP_SESSION_REVOKED,
  RISC_ACCOUNT_DISABLED,
  RISC_SESSIONS_REVOKED,
} from './idp-tokens.ts'
import type { WardOptions } from './options.ts'
import type { SessionInfo } from './session.ts'
import { CHROME_120, type TestApp, testApp } from './test-support/app.ts'
import { at, useFakeClock } from './test-support/clock.ts'
import { pgliteForEachTest, postgresSkipReason, testDatabase } from './test-support/db.ts'
import { AUDIENCE, startTestProvider, type TestProvider } from './test-support/identity-provider.ts'
import { EventReader } from './test-support/sse.ts'
import type { EndReason } from './vocabulary.ts'

// The identity providers' receivers through the ward's routes, as a provider sees them: one
// token per rule of Back-Channel Logout 1.0 §2.6 that breaks only that rule, the sessions a
// valid one ends, and the Shared Signals (RFC 8935) receiver. Keys come over real HTTP from a
// stand-in provider; the real provider (oidc-provider) is in idp-provider.test.ts.

let provider: TestProvider
beforeAll(async () => {
  provider = await startTestProvider()
})
afterAll(() => provider.close())

const database = pgliteForEachTest()

async function app(options: WardOptions = {}): Promise<TestApp> {
  return testApp(database(), {
    identityProviders: [{ issuer: provider.issuer, audience: AUDIENCE, jwksUri: provider.jwksUri }],
    ...options,
  })
}

/** Signs in `userId` through the provider's session `sid` of subject `sub`. */
async function signIn(
  ward: TestApp,
  userId: string,
  idp: { sub: string; sid?: string },
  issuer = provider.issuer,
) {
  const request = new Request('http://localhost/login', {
    method: 'POST',
    headers: { 'user-agent': CHROME_120 },
  })
  const outcome = await ward.ward.signIn(request, userId, { idp: { issuer, ...idp } })
  if ('problem' in outcome) throw new Error(outcome.problem.message)
  return outcome
}

function logout(ward: TestApp, token: string | string[], ip?: string) {
  const body = new URLSearchParams()
  for (const each of [token].flat()) body.append('logout_token', each)
  return ward.app.request('/session/backchannel-logout', {
    method: 'POST',
    body,
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      ...(ip ? { 'x-test-ip': ip } : {}),
    },
  })
}

function pushEvent(ward: TestApp, token: string, contentType = 'application/secevent+jwt') {
  return ward.app.request('/session/ssf', {
    method: 'POST',
    body: token,
    headers: { 'content-type': contentType },
  })
}

async function apiStatus(ward: TestApp, token: string) {
  const response = await ward.call('/api/me', { token })
  return { status: response.status, body: await response.json() }
}

/** The claims of a valid logout token, to sign some other way. */
const validClaims = async () => decodeJwt(await provider.logoutToken())

const base64url = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url')

describe('POST /session/backchannel-logout: one token per rule of §2.6, each breaking only it', () => {
  let ward: TestApp
  beforeEach(async () => {
    ward = await app()
  })

  const now = () => Math.floor(Date.now() / 1000)
  const cases: [string, () => Promise<string>, string][] = [
    ['not a JWT', async () => 'not-a-jwt', 'the token is not a JWT'],
    [
      'encrypted (JWE)',
      async () => `${base64url({ alg: 'RSA-OAEP', enc: 'A256GCM' })}.a.b.c.d`,
      'encrypted tokens (JWE) are not taken',
    ],
    [
      'unsigned (alg none)',
      async () => {
        const signed = await provider.logoutToken()
        return `${base64url({ alg: 'none' })}.${signed.split('.')[1]}.`
      },
      'the token is not signed (alg "none")',
    ],
    [
      'HS256, signed with the provider public key as the secret',
      async () => {
        const claims = await validClaims()
        const secret = new TextEncoder().encode(
          JSON.stringify(await (await fetch(provider.jwksUri)).json()),
        )
        return new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid: 'k1' }).sign(secret)
      },
      'alg "HS256" is not taken: only asymmetric signatures',
    ],
    [
      'explicitly typed as another kind of token (typ secevent+jwt)',
      () => provider.logoutToken({}, { typ: 'secevent+jwt' }),
      'typ "secevent+jwt" is not a logout token',
    ],
    [
      'typ that is not a string',
      () => provider.logoutToken({}, { typ: 7 }),
      'typ 7 is not a logout token',
    ],
    [
      'iss of a provider not configured',
      () => provider.logoutToken({ iss: 'https://other-idp.example' }),
      'iss "https://other-idp.example" is not one of the configured identity providers',
    ],
    [
      'signed by another key under the provider kid',
      async () => {
        const { privateKey } = await generateKeyPair('RS256')
        return provider.sign(await validClaims(), {}, privateKey)
      },
      "the signature does not verify with the provider's keys",
    ],
    [
      'a kid the provider does not publish',
      () => provider.logoutToken({}, { kid: 'unknown-kid' }),
      "no key of the provider's key set matches the token's kid and alg",
    ],
    [
      'aud of another client',
      () => provider.logoutToken({ aud: 'another-client' }),
      `the aud claim does not contain the client id "${AUDIENCE}"`,
    ],
    [
      'iat missing',
      () => provider.logoutToken({ iat: undefined }),
      'the iat claim is missing or not a number',
    ],
    [
      'iat ten minutes in the future',
      () => provider.logoutToken({ iat: now() + 600, exp: now() + 720 }),
      'the iat claim is in the future',
    ],
    [
      'exp missing',
      () => provider.logoutToken({ exp: undefined }),
      'the exp claim is missing or not a number',
    ],
    [
      'exp passed',
      () => provider.logoutToken({ iat: now() - 900, exp: now() - 600 }),
      'the token has expired (exp has passed)',
    ],
    [
      'neither sub nor sid',
      () => provider.logoutToken({ sub: undefined, sid: undefined }),
      'the token has neither a sub nor a sid claim',
    ],
    ['sid not a string', () => provider.logoutToken({ sid: 42 }), 'the sid claim is not a string'],
    [
      'no events claim',
      () => provider.logoutToken({ events: undefined }),
      `the events claim does not hold ${BACKCHANNEL_LOGOUT_EVENT}`,
    ],
    [
      'the logout event is not a JSON object',
      () => provider.logoutToken({ events: { [BACKCHANNEL_LOGOUT_EVENT]: true } }),
      `the events claim does not hold ${BACKCHANNEL_LOGOUT_EVENT}`,
    ],
    [
      'a nonce (an ID token passed off as a logout token)',
      () => provider.logoutToken({ nonce: 'n-0S6_WzA2Mj' }),
      'a logout token must not have a nonce claim',
    ],
    ['jti missing', () => provider.logoutToken({ jti: undefined }), 'the jti claim is missing'],
  ]

  it.each(cases)(
    'refuses a token %s: 400 invalid_request saying so, nothing ends',
    async (_rule, token, message) => {
      const linked = await signIn(ward, 'alice', {
        sub: 'provider-user-1',
        sid: 'provider-session-1',
      })
      const response = await logout(ward, await token())
      expect(response.status).toBe(400)
      expect(response.headers.get('cache-control')).toBe('no-store')
      const body = await response.json()
      expect(body.error).toBe('invalid_request')
      expect(body.message).toContain(message)
      expect((await apiStatus(ward, linked.token)).status).toBe(200)
    },
  )

  it('refuses a replayed token (same jti): 400, the first one ended the session', async () => {
    const linked = await signIn(ward, 'alice', {
      sub: 'provider-user-1',
      sid: 'provider-session-1',
    })
    const token = await provider.logoutToken()
    expect((await logout(ward, token)).status).toBe(200)
    const again = await logout(ward, token)
    expect(again.status).toBe(400)
    expect((await again.json()).message).toBe('this jti was taken before: a replayed token')
    expect((await apiStatus(ward, linked.token)).body.reason).toBe('idp_logout')
  })

  it.each([
    ['no body', undefined, 'application/x-www-form-urlencoded', 'exactly one logout_token'],
    ['JSON', '{"logout_token":"x"}', 'application/json', 'application/x-www-form-urlencoded'],
    ['two logout_token fields', 'logout_token=a&logout_token=b', undefined, 'exactly one'],
    ['a body of 70 KB', `logout_token=${'a'.repeat(70_000)}`, undefined, 'at most 65536 bytes'],
  ])('refuses %s: 400 invalid_request', async (_what, body, contentType, message) => {
    const response = await ward.app.request('/session/backchannel-logout', {
      method: 'POST',
      body,
      headers: { 'content-type': contentType ?? 'application/x-www-form-urlencoded' },
    })
    expect(response.status).toBe(400)
    expect(await response.json()).toEqual({
      error: 'invalid_request',
      message: expect.stringContaining(message),
    })
  })
})

describe('POST /session/backchannel-logout: what a valid token ends', () => {
  it('ends the sessions of its sid with idp_logout: 200 no-store with no body; the API answers 401 session_ended; hooks see the link', async () => {
    const ends: [SessionInfo, EndReason][] = []
    const ward = await app({
      hooks: { onSessionEnd: (session, reason) => void ends.push([session, reason]) },
    })
    const here = await signIn(ward, 'alice', { sub: 'provider-user-1', sid: 'provider-session-1' })
    const otherBrowser = await signIn(ward, 'alice', {
      sub: 'provider-user-1',
      sid: 'provider-session-2',
    })
    const ownLogin = await ward.login('alice')
    const events = await ward.call('/session/events', { token: here.token })
    const reader = new EventReader(events)
    expect((await reader.next())?.event).toBe('policy')

    const response = await logout(ward, await provider.logoutToken({ sid: 'provider-session-1' }))

    expect(response.status).toBe(200)
    expect(response.headers.get('cache-control')).toBe('no-store')
    expect(await response.text()).toBe('')
    expect(await reader.next()).toEqual({ event: 'ended', data: '{"reason":"idp_logout"}' })
    expect(await apiStatus(ward, here.token)).toEqual({
      status: 401,
      body: expect.objectContaining({ error: 'session_ended', reason: 'idp_logout' }),
    })
    expect((await apiStatus(ward, otherBrowser.token)).status).toBe(200)
    expect((await apiStatus(ward, ownLogin.token)).status).toBe(200)
    expect(ends).toEqual([
      [
        expect.objectContaining({
          id: here.session.id,
          idp: { issuer: provider.issuer, sub: 'provider-user-1', sid: 'provider-session-1' },
        }),
        'idp_logout',
      ],
    ])
  })

  it('without sid, ends every session of its sub at that provider, and only those', async () => {
    const ward = await app()
    const first = await signIn(ward, 'alice', { sub: 'provider-user-1', sid: 's1' })
    const second = await signIn(ward, 'alice', { sub: 'provider-user-1' })
    const bob = await signIn(ward, 'bob', { sub: 'provider-user-2', sid: 's3' })

    const response = await logout(ward, await provider.logoutToken({ sid: undefined }))

    expect(response.status).toBe(200)
    for (const { token } of [first, second]) {
      expect((await apiStatus(ward, token)).body.reason).toBe('idp_logout')
    }
    expect((await apiStatus(ward, bob.token)).status).toBe(200)
  })

  it('a failed end (503 store_unavailable) leaves the jti free: the provider retry ends the session', async () => {
    const ward = await app({ logger: { info() {}, warn() {}, error() {} } })
    const linked = await signIn(ward, 'alice', {
      sub: 'provider-user-1',
      sid: 'provider-session-1',
    })
    const token = await provider.logoutToken()
    const db = database()
    await db.sql(`create or replace function sessionward_test_refuse() returns trigger
      language plpgsql as $$ begin raise exception 'end refused'; end $$`)
    await db.sql(`create trigger sessionward_test_refuse before update of ended_at
      on sessionward_session for each row execute function sessionward_test_refuse()`)
    try {
      const failed = await logout(ward, token)
      expect(failed.status).toBe(503)
      expect((await failed.json()).error).toBe('store_unavailable')
    } finally {
      await db.sql('drop trigger sessionward_test_refuse on sessionward_session')
      await db.sql('drop function sessionward_test_refuse')
    }
    expect((await logout(ward, token)).status).toBe(200)
    expect((await apiStatus(ward, linked.token)).body.reason).toBe('idp_logout')
  })

  it('answers 200 when no session matches (the provider must not retry)', async () => {
    const ward = await app()
    expect((await logout(ward, await provider.logoutToken({ sid: 'nobody' }))).status).toBe(200)
  })

  it('finds the keys through the discovery document when jwksUri is not given', async () => {
    const ward = await app({ identityProviders: [{ issuer: provider.issuer, audience: AUDIENCE }] })
    const linked = await signIn(ward, 'alice', {
      sub: 'provider-user-1',
      sid: 'provider-session-1',
    })
    expect((await logout(ward, await provider.logoutToken())).status).toBe(200)
    expect((await apiStatus(ward, linked.token)).body.reason).toBe('idp_logout')
  })

  it(`refuses (400) rather than hangs when the key set does not answer within ${KEY_FETCH_TIMEOUT / 1000} s`, async () => {
    const hanging = await startTestProvider({ hang: true })
    try {
      const ward = await testApp(database(), {
        identityProviders: [
          { issuer: hanging.issuer, audience: AUDIENCE, jwksUri: hanging.jwksUri },
        ],
      })
      const response = await logout(ward, await hanging.logoutToken())
      expect(response.status).toBe(400)
      expect((await response.json()).message).toBe(
        `the provider's keys did not answer within ${KEY_FETCH_TIMEOUT / 1000} s`,
      )
    } finally {
      await hanging.close()
    }
  })

  it('refuses createSession with an idp of an issuer that is not configured, naming it', async () => {
    const ward = await app()
    await expect(signIn(ward, 'alice', { sub: 'x' }, 'https://other.example')).rejects.toThrow(
      'createSession idp.issuer "https://other.example" is not one of the identityProviders of createWard',
    )
  })

  it('shows the provider in the devices list and the admin view', async () => {
    const ward = await app()
    const linked = await signIn(ward, 'alice', {
      sub: 'provider-user-1',
      sid: 'provider-session-1',
    })
    const devices = await (await ward.call('/session/sessions', { token: linked.token })).json()
    expect(devices.sessions[0].idp).toEqual({ issuer: provider.issuer })
    expect((await ward.ward.listSessions('alice')).sessions[0]?.idp).toEqual({
      issuer: provider.issuer,
      sub: 'provider-user-1',
      sid: 'provider-session-1',
    })
  })
})

describe('key rotation at the provider', () => {
  useFakeClock()

  it(`an unknown kid fetches the key set again, at most once per ${KEY_REFETCH_COOLDOWN / 1000} s`, async () => {
    const ward = await app()
    expect((await logout(ward, await provider.logoutToken({ sid: 'a' }))).status).toBe(200)
    const fetched = provider.jwksFetches()
    await provider.rotate()
    at(KEY_REFETCH_COOLDOWN / 1000 / 2)
    const early = await logout(ward, await provider.logoutToken({ sid: 'b' }))
    expect((await early.json()).message).toBe(
      "no key of the provider's key set matches the token's kid and alg",
    )
    expect(provider.jwksFetches()).toBe(fetched)
    at(KEY_REFETCH_COOLDOWN / 1000 + 1)
    expect((await logout(ward, await provider.logoutToken({ sid: 'c' }))).status).toBe(200)
    expect(provider.jwksFetches()).toBe(fetched + 1)
  })
})

describe('throttling per client IP', () => {
  it('refuses an address that sent too many invalid tokens with 429 and Retry-After; valid tokens never count', async () => {
    const ward = await app({
      clientIp: (c) => c.req.header('x-test-ip'),
      throttle: { tokenGuesses: { points: 3, duration: 60 } },
    })
    for (let i = 0; i < 5; i++) {
      expect((await logout(ward, await provider.logoutToken(), '198.51.100.1')).status).toBe(200)
    }
    for (let i = 0; i < 3; i++)
      expect((await logout(ward, 'garbage', '198.51.100.1')).status).toBe(400)
    const refused = await logout(ward, await provider.logoutToken(), '198.51.100.1')
    expect(refused.status).toBe(429)
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0)
    expect((await refused.json()).error).toBe('too_many_requests')
    expect((await logout(ward, await provider.logoutToken(), '198.51.100.2')).status).toBe(200)
  })
})

describe('POST /session/ssf (RFC 8935 push of Security Event Tokens)', () => {
  let ward: TestApp
  const ends: [SessionInfo, EndReason][] = []
  beforeEach(async () => {
    ends.length = 0
    ward = await app({
      hooks: { onSessionEnd: (session, reason) => void ends.push([session, reason]) },
      identityProviders: [
        {
          issuer: provider.issuer,
          audience: AUDIENCE,
          jwksUri: provider.jwksUri,
          resolveSubject: (subject) => (subject.email === 'carol@example.com' ? 'carol' : null),
        },
      ],
    })
  })

  it('CAEP session-revoked with an opaque session id: 202, that session ends with idp_revoked', async () => {
    const one = await signIn(ward, 'alice', { sub: 'provider-user-1', sid: 'provider-session-1' })
    const other = await signIn(ward, 'alice', { sub: 'provider-user-1', sid: 'provider-session-2' })
    const token = await provider.securityEvent(
      { [CAEP_SESSION_REVOKED]: { event_timestamp: Math.floor(Date.now() / 1000) } },
      { sub_id: { format: 'opaque', id: 'provider-session-1' } },
    )
    const response = await pushEvent(ward, token)
    expect(response.status).toBe(202)
    expect(await apiStatus(ward, one.token)).toEqual({
      status: 401,
      body: expect.objectContaining({ error: 'session_ended', reason: 'idp_revoked' }),
    })
    expect((await apiStatus(ward, other.token)).status).toBe(200)
  })

  it('RISC account-disabled with an iss_sub subject: every session of that subject ends', async () => {
    const one = await signIn(ward, 'alice', { sub: 'provider-user-1', sid: 's1' })
    const two = await signIn(ward, 'alice', { sub: 'provider-user-1', sid: 's2' })
    const bob = await signIn(ward, 'bob', { sub: 'provider-user-2' })
    const subject = { format: 'iss_sub', iss: provider.issuer, sub: 'provider-user-1' }
    const token = await provider.securityEvent({
      [RISC_ACCOUNT_DISABLED]: { subject, reason: 'hijacking' },
    })
    expect((await pushEvent(ward, token)).status).toBe(202)
    for (const { token: t } of [one, two])
      expect((await apiStatus(ward, t)).body.reason).toBe('idp_revoked')
    expect((await apiStatus(ward, bob.token)).status).toBe(200)
    expect(ends.map(([, reason]) => reason)).toEqual(['idp_revoked', 'idp_revoked'])
  })

  it('RISC sessions-revoked with an email subject goes through resolveSubject: every session of that user ends', async () => {
    const linked = await signIn(ward, 'carol', { sub: 'provider-user-3' })
    const own = await ward.login('carol')
    const token = await provider.securityEvent({
      [RISC_SESSIONS_REVOKED]: { subject: { format: 'email', email: 'carol@example.com' } },
    })
    expect((await pushEvent(ward, token)).status).toBe(202)
    for (const { token: t } of [linked, own])
      expect((await apiStatus(ward, t)).body.reason).toBe('idp_revoked')
  })

  it('takes an event it does not act on (202) and ends nothing', async () => {
    const linked = await signIn(ward, 'alice', {
      sub: 'provider-user-1',
      sid: 'provider-session-1',
    })
    const token = await provider.securityEvent({
      'https://schemas.openid.net/secevent/caep/event-type/credential-change': {
        subject: { format: 'opaque', id: 'provider-session-1' },
      },
    })
    expect((await pushEvent(ward, token)).status).toBe(202)
    expect((await apiStatus(ward, linked.token)).status).toBe(200)
  })

  const revoked = () => ({ [CAEP_SESSION_REVOKED]: { subject: { format: 'opaque', id: 'x' } } })
  it.each<[string, () => Promise<string>, string, string]>([
    ['not a JWT', async () => 'nonsense', 'invalid_request', 'the token is not a JWT'],
    [
      'an issuer not configured',
      () => provider.securityEvent(revoked(), { iss: 'https://other.example' }),
      'invalid_issuer',
      'iss "https://other.example" is not one of the configured identity providers',
    ],
    [
      'another audience',
      () => provider.securityEvent(revoked(), { aud: 'someone-else' }),
      'invalid_audience',
      `the aud claim does not contain "${AUDIENCE}"`,
    ],
    [
      'a kid the provider does not publish',
      async () => provider.sign({ iss: provider.issuer }, { kid: 'nope', typ: 'secevent+jwt' }),
      'invalid_key',
      "no key of the provider's key set matches",
    ],
    [
      'a logout token sent as an event',
      () => provider.logoutToken(),
      'invalid_request',
      'typ "logout+jwt" is not a Security Event Token',
    ],
    [
      'no jti',
      () => provider.securityEvent(revoked(), { jti: undefined }),
      'invalid_request',
      'the jti claim is missing',
    ],
    [
      'issued two days ago',
      () => provider.securityEvent(revoked(), { iat: Math.floor(Date.now() / 1000) - 172_800 }),
      'invalid_request',
      'the token was issued more than 86400 seconds ago',
    ],
    [
      'a session-revoked event without a subject',
      () => provider.securityEvent({ [CAEP_SESSION_REVOKED]: {} }),
      'invalid_request',
      'names no subject',
    ],
  ])('refuses %s: 400 with its RFC 8935 err code', async (_what, token, err, description) => {
    const response = await pushEvent(ward, await token())
    expect(response.status).toBe(400)
    expect(await response.json()).toEqual({
      err,
      description: expect.stringContaining(description),
    })
  })

  it('refuses another content type and a replayed jti with invalid_request', async () => {
    const token = await provider.securityEvent(revoked())
    expect(await (await pushEvent(ward, token, 'application/jwt')).json()).toEqual({
      err: 'invalid_request',
      description: 'the body must be application/secevent+jwt',
    })
    expect((await pushEvent(ward, token)).status).toBe(202)
    const replay = await pushEvent(ward, token)
    expect(replay.status).toBe(400)
    expect(await replay.json()).toEqual({
      err: 'invalid_request',
      description: 'this jti was taken before: a replayed token',
    })
  })
})

describe.skipIf(postgresSkipReason !== null)(
  `replay across two instances on PostgreSQL${postgresSkipReason ? ` (skipped: ${postgresSkipReason})` : ''}`,
  () => {
    it('one logout token sent to two instances at once: one takes it (200), the other refuses the replay (400)', async () => {
      const db = await testDatabase('PostgreSQL')
      await db.reset()
      const options: WardOptions = {
        identityProviders: [
          { issuer: provider.issuer, audience: AUDIENCE, jwksUri: provider.jwksUri },
        ],
      }
      const first = await testApp(String(db.url), options)
      const second = await testApp(String(db.url), options)
      try {
        const linked = await signIn(first, 'alice', {
          sub: 'provider-user-1',
          sid: 'provider-session-1',
        })
        const token = await provider.logoutToken()
        const answers = await Promise.all([logout(first, token), logout(second, token)])
        expect(answers.map((answer) => answer.status).sort()).toEqual([200, 400])
        const refused = answers.find((answer) => answer.status === 400)
        expect(await refused?.json()).toEqual({
          error: 'invalid_request',
          message: 'this jti was taken before: a replayed token',
        })
        // And later, on either instance.
        for (const instance of [first, second])
          expect((await logout(instance, token)).status).toBe(400)
        expect((await apiStatus(second, linked.token)).body.reason).toBe('idp_logout')
      } finally {
        await first.ward.close()
        await second.ward.close()
      }
    })
  },
)
