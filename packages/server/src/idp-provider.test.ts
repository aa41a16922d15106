import type { AddressInfo } from 'node:net'
import { serve } from '@hono/node-server'
import type { Hono } from 'hono'
import { afterEach, expect, it } from 'vitest'
import type { WardEnv } from './middleware.ts'
import { CHROME_120, type TestApp, testApp } from './test-support/app.ts'
import { pgliteForEachTest } from './test-support/db.ts'
import { CLIENT_ID, type RealProvider, startOidcProvider } from './test-support/oidc-provider.ts'

// The whole path with a real OpenID Provider (oidc-provider, certified, with Back-Channel
// Logout 1.0): the user signs in through it (openid-client on the app's side), the app links the
// ward's session to the provider's, the user signs out at the provider, the provider posts its
// logout token to the ward's route, and the API answers 401 session_ended with idp_logout.

const database = pgliteForEachTest()
const closing: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const close of closing.splice(0).reverse()) await close()
})

/** The app on a real port (the provider posts to it), its handler bound once the ward exists. */
async function listen(): Promise<{ origin: string; mount(app: Hono<WardEnv>): void }> {
  let app: Hono<WardEnv> | undefined
  const server = serve({
    fetch: (request, env) => (app ? app.fetch(request, env) : new Response(null, { status: 503 })),
    hostname: '127.0.0.1',
    port: 0,
  })
  await new Promise<void>((resolve) => server.once('listening', () => resolve()))
  closing.push(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    mount: (mounted) => {
      app = mounted
    },
  }
}

/** Asks the API until it answers something else than 200, boundedly (the provider posts async). */
async function untilRefused(ward: TestApp, token: string): Promise<Response> {
  for (let tries = 0; tries < 200; tries++) {
    const response = await ward.call('/api/me', { token })
    if (response.status !== 200) return response
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error('the session was never ended')
}

it('sign in through the provider, sign out there: its logout token ends the ward session (401 session_ended, idp_logout)', async () => {
  const app = await listen()
  const provider: RealProvider = await startOidcProvider({
    redirectUri: `${app.origin}/callback`,
    backchannelLogoutUri: `${app.origin}/session/backchannel-logout`,
  })
  closing.push(() => provider.close())
  const ward = await testApp(database(), {
    identityProviders: [{ issuer: provider.issuer, audience: CLIENT_ID }],
  })
  app.mount(ward.app)

  const idp = await provider.signIn('provider-user-7')
  const request = new Request(`${app.origin}/login`, {
    method: 'POST',
    headers: { 'user-agent': CHROME_120 },
  })
  const signedIn = await ward.ward.signIn(request, 'user-7', { idp })
  if ('problem' in signedIn) throw new Error(signedIn.problem.message)
  const other = await ward.login('user-7')
  expect((await ward.call('/api/me', { token: signedIn.token })).status).toBe(200)

  await provider.logout()

  const refused = await untilRefused(ward, signedIn.token)
  expect(refused.status).toBe(401)
  expect(await refused.json()).toEqual(
    expect.objectContaining({ error: 'session_ended', reason: 'idp_logout' }),
  )
  // The session the app started itself is not the provider's to end.
  expect((await ward.call('/api/me', { token: other.token })).status).toBe(200)
}, 60_000)
