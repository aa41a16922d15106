import { randomUUID } from 'node:crypto'
import type { Ward, WardEnv } from '@sessionward/server'
import { Hono } from 'hono'
import { deleteCookie, getCookie, setCookie } from 'hono/cookie'
import * as openid from 'openid-client'
import { loginPage } from './pages.ts'
import type { UserDirectory } from './users.ts'

// The demo's "sign in with the identity provider" path: OpenID Connect's authorization-code flow
// with PKCE through openid-client, the ward's session linked to the provider's (`idp`), so the
// provider's back-channel logout (to /session/backchannel-logout) signs the user out here too.

/** The provider the demo trusts, and the demo's client at it. */
export interface DemoIdentityProvider {
  issuer: string
  clientId: string
  clientSecret: string
}

// The browser's half of a sign-in in flight: its `state`, checked on the way back (login CSRF).
const STATE_COOKIE = 'demo-oidc-state'
// Sign-ins in flight (state → PKCE verifier), bounded: a page reloaded many times cannot grow it.
const MAX_PENDING = 1_000
const PENDING_FOR = 10 * 60 * 1000

/**
 * `GET /login/idp` (off to the provider) and `GET /login/idp/callback` (back, signed in), for
 * the users of `users`: the provider's subject is the demo's user id.
 */
export function identityProviderSignIn(
  ward: Ward,
  users: UserDirectory,
  provider: DemoIdentityProvider,
): Hono<WardEnv> {
  const app = new Hono<WardEnv>()
  const pending = new Map<string, { verifier: string; until: number }>()
  let discovered: Promise<openid.Configuration> | null = null
  const configuration = () => {
    discovered ??= openid
      .discovery(new URL(provider.issuer), provider.clientId, provider.clientSecret, undefined, {
        // The demo and its test provider run on http://127.0.0.1; a real provider is https.
        execute:
          new URL(provider.issuer).protocol === 'http:' ? [openid.allowInsecureRequests] : [],
      })
      .catch((error: unknown) => {
        discovered = null
        throw error
      })
    return discovered
  }
  const callbackUrl = (url: string) => new URL('/login/idp/callback', url).toString()

  app.get('/login/idp', async (c) => {
    const config = await configuration()
    const verifier = openid.randomPKCECodeVerifier()
    const state = randomUUID()
    const now = Date.now()
    for (const [key, { until }] of pending) if (until < now) pending.delete(key)
    if (pending.size >= MAX_PENDING) pending.delete(pending.keys().next().value as string)
    pending.set(state, { verifier, until: now + PENDING_FOR })
    setCookie(c, STATE_COOKIE, state, { httpOnly: true, sameSite: 'Lax', path: '/login/idp' })
    const target = openid.buildAuthorizationUrl(config, {
      redirect_uri: callbackUrl(c.req.url),
      scope: 'openid',
      code_challenge: await openid.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
    })
    return c.redirect(target.toString(), 303)
  })

  app.get('/login/idp/callback', async (c) => {
    const state = getCookie(c, STATE_COOKIE)
    deleteCookie(c, STATE_COOKIE, { path: '/login/idp' })
    const flight = state ? pending.get(state) : undefined
    if (state) pending.delete(state)
    const refused = (error: string) => c.html(loginPage({ error }), 400)
    if (!state || !flight) return refused('That sign-in expired. Please try again.')
    let claims: openid.IDToken | undefined
    try {
      const tokens = await openid.authorizationCodeGrant(
        await configuration(),
        new URL(c.req.url),
        {
          pkceCodeVerifier: flight.verifier,
          expectedState: state,
        },
      )
      claims = tokens.claims()
    } catch {
      return refused('The identity provider did not sign you in. Please try again.')
    }
    const user = claims && users.get(claims.sub)
    if (!claims || !user)
      return refused('The identity provider signed in a user this demo does not know.')
    const sid = typeof claims.sid === 'string' ? claims.sid : undefined
    await ward.createSession(c, user.id, {
      idp: { issuer: claims.iss, sub: claims.sub, ...(sid ? { sid } : {}) },
    })
    return c.redirect('/', 303)
  })
  return app
}
