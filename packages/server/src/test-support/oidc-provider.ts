import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { exportJWK, generateKeyPair } from 'jose'
import Provider from 'oidc-provider'
import * as openid from 'openid-client'

/** The app's client id and secret at the test provider. */
export const CLIENT_ID = 'sessionward-app'
export const CLIENT_SECRET = 'a-client-secret-of-at-least-32-bytes!'

/** What the app's callback learns from the provider's ID token. */
export interface ProviderSignIn {
  issuer: string
  sub: string
  sid: string
}

/**
 * A real OpenID Provider (oidc-provider, certified, with Back-Channel Logout) on a private port,
 * with one client (the app) whose `backchannel_logout_uri` is the ward's route, and a user agent
 * that goes through its pages as a browser would (cookies kept, redirects followed).
 */
export interface RealProvider {
  issuer: string
  /**
   * Signs `accountId` in at the provider (login and consent pages) and completes the app's
   * authorization-code flow with openid-client; gives the ID token's `iss`, `sub` and `sid`.
   */
  signIn(accountId: string): Promise<ProviderSignIn>
  /**
   * Ends the provider's session as the user would (its logout page, confirmed): the provider
   * then sends a logout token to every client of that session.
   */
  logout(): Promise<void>
  /** Resolves with the outcome of each back-channel logout the provider sends from now on. */
  nextBackchannelLogout(): Promise<{ sent: boolean; at: number; message?: string }>
  close(): Promise<void>
}

/** A browser-like fetch: one cookie jar, redirects followed until `stopAt` (returned). */
function userAgent() {
  const jar = new Map<string, string>()
  const send = async (url: string, init: RequestInit = {}): Promise<Response> => {
    const cookie = [...jar].map(([name, value]) => `${name}=${value}`).join('; ')
    const response = await fetch(url, {
      ...init,
      redirect: 'manual',
      headers: { ...(init.headers as Record<string, string>), ...(cookie ? { cookie } : {}) },
    })
    for (const line of response.headers.getSetCookie()) {
      const [pair = ''] = line.split(';')
      const at = pair.indexOf('=')
      const name = pair.slice(0, at)
      const value = pair.slice(at + 1)
      if (value === '' || /expires=Thu, 01 Jan 1970/i.test(line)) jar.delete(name)
      else jar.set(name, value)
    }
    return response
  }
  /** Follows redirects from `url` until one leads to `stopAt`; returns that URL. */
  const follow = async (first: Response, stopAt: string): Promise<string> => {
    let response = first
    for (let hops = 0; hops < 10; hops++) {
      const location = response.headers.get('location')
      if (!location)
        throw new Error(`no redirect (HTTP ${response.status}): ${await response.text()}`)
      const next = new URL(location, response.url || undefined).toString()
      if (next.startsWith(stopAt)) return next
      response = await send(next)
    }
    throw new Error('too many redirects')
  }
  return { send, follow }
}

/** The hidden inputs of the first form on an HTML page. */
function formFields(html: string): Record<string, string> {
  const fields: Record<string, string> = {}
  for (const [, name, value] of html.matchAll(/<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"/g)) {
    if (name) fields[name] = value ?? ''
  }
  return fields
}

/** Where the provider sends the app's users back (`redirectUri`) and its logout tokens. */
export interface ProviderClient {
  redirectUri: string
  backchannelLogoutUri: string
}

/**
 * Starts the provider for an app whose callback is `redirectUri` and whose back-channel logout
 * route is `backchannelLogoutUri`; given as a function of the issuer, the app may start once the
 * provider's address is known (it needs it for its own configuration).
 *
 * @example
 * const provider = await startOidcProvider({ redirectUri, backchannelLogoutUri })
 */
export async function startOidcProvider(
  client: ProviderClient | ((issuer: string) => Promise<ProviderClient>),
): Promise<RealProvider> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const app = typeof client === 'function' ? await client(issuer) : client
  const { privateKey } = await generateKeyPair('RS256', { extractable: true })
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        redirect_uris: [app.redirectUri],
        post_logout_redirect_uris: [app.redirectUri],
        backchannel_logout_uri: app.backchannelLogoutUri,
        backchannel_logout_session_required: true,
      },
    ],
    jwks: { keys: [{ ...(await exportJWK(privateKey)), kid: 'provider-key', alg: 'RS256' }] },
    cookies: { keys: ['a-cookie-signing-key-for-tests'] },
    features: { backchannelLogout: { enabled: true }, devInteractions: { enabled: true } },
    findAccount: (_ctx: unknown, accountId: string) => ({
      accountId,
      claims: () => ({ sub: accountId }),
    }),
    // Its SSRF guard (a dispatcher refusing special-use addresses) would refuse the app on
    // 127.0.0.1, where the tests run it: the provider's own fetch, without that dispatcher.
    fetch: (url: string | URL | Request, init: RequestInit = {}) => {
      const { dispatcher: _guard, ...options } = init as RequestInit & { dispatcher?: unknown }
      return fetch(url, options)
    },
  })
  server.on('request', provider.callback())
  // What the provider's back-channel logouts came to: a failed one fails `logout()`.
  const backchannel: string[] = []
  const waiting: ((outcome: { sent: boolean; at: number; message?: string }) => void)[] = []
  provider.on('backchannel.success', () => {
    backchannel.push('sent')
    for (const resolve of waiting.splice(0)) resolve({ sent: true, at: Date.now() })
  })
  provider.on('backchannel.error', (_ctx: unknown, error: Error) => {
    backchannel.push(error.message)
    for (const resolve of waiting.splice(0))
      resolve({ sent: false, at: Date.now(), message: error.message })
  })
  const browser = userAgent()
  let idToken: string | undefined
  return {
    issuer,
    signIn: async (accountId) => {
      const config = await openid.discovery(new URL(issuer), CLIENT_ID, CLIENT_SECRET, undefined, {
        execute: [openid.allowInsecureRequests],
      })
      const verifier = openid.randomPKCECodeVerifier()
      const state = openid.randomState()
      const authorize = openid.buildAuthorizationUrl(config, {
        redirect_uri: app.redirectUri,
        scope: 'openid',
        code_challenge: await openid.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        state,
      })
      let at = await browser.follow(
        await browser.send(authorize.toString()),
        `${issuer}/interaction/`,
      )
      const login = new URLSearchParams({ prompt: 'login', login: accountId, password: 'x' })
      const consented = await browser.follow(
        await browser.send(at, { method: 'POST', body: login }),
        `${issuer}/interaction/`,
      )
      at = consented
      const callback = await browser.follow(
        await browser.send(at, {
          method: 'POST',
          body: new URLSearchParams({ prompt: 'consent' }),
        }),
        app.redirectUri,
      )
      const tokens = await openid.authorizationCodeGrant(config, new URL(callback), {
        pkceCodeVerifier: verifier,
        expectedState: state,
      })
      idToken = tokens.id_token
      const claims = tokens.claims()
      if (!claims || typeof claims.sid !== 'string') throw new Error('the ID token has no sid')
      return { issuer: claims.iss, sub: claims.sub, sid: claims.sid }
    },
    logout: async () => {
      const end = new URL(`${issuer}/session/end`)
      if (idToken) end.searchParams.set('id_token_hint', idToken)
      const page = await browser.send(end.toString())
      const fields = formFields(await page.text())
      const confirmed = await browser.send(`${issuer}/session/end/confirm`, {
        method: 'POST',
        body: new URLSearchParams({ ...fields, logout: 'yes' }),
      })
      if (confirmed.status >= 400) {
        throw new Error(`the provider's logout failed: HTTP ${confirmed.status}`)
      }
      const sent = backchannel.splice(0)
      if (sent.length === 0 || sent.some((outcome) => outcome !== 'sent')) {
        throw new Error(`the provider's back-channel logout: ${sent.join('; ') || 'not sent'}`)
      }
    },
    nextBackchannelLogout: () => new Promise((resolve) => waiting.push(resolve)),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
