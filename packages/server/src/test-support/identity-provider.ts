import { randomUUID } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose'
import { BACKCHANNEL_LOGOUT_EVENT } from '../idp-tokens.ts'

/** The client id the test provider's logout tokens are for. */
export const AUDIENCE = 'sessionward-test-app'

/**
 * A stand-in identity provider for the receiver tests: an RS256 key pair, its discovery document
 * and JWKS served over real HTTP on a private port (or a JWKS that never answers), and tokens it
 * signs. The scenario with a real provider (oidc-provider) is in idp-provider.test.ts.
 */
export interface TestProvider {
  issuer: string
  jwksUri: string
  /** How many times the JWKS was fetched. */
  jwksFetches(): number
  /** A logout token: valid claims for `now`, overridden (or removed, with undefined) by `claims`. */
  logoutToken(
    claims?: Record<string, unknown>,
    header?: Record<string, unknown>,
    now?: number,
  ): Promise<string>
  /** A Security Event Token with `events`, valid for `now`, overridden by `claims`. */
  securityEvent(events: Record<string, unknown>, claims?: Record<string, unknown>): Promise<string>
  /** Signs any claims with the provider's key (or `key`), with the header given. */
  sign(
    claims: Record<string, unknown>,
    header?: Record<string, unknown>,
    key?: CryptoKey,
  ): Promise<string>
  /** Replaces the served key set by a new key (a rotation); tokens sign with the new one after. */
  rotate(): Promise<void>
  close(): Promise<void>
}

async function keyPair(kid: string) {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true })
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' }
  return { privateKey, jwk, kid }
}

/**
 * Starts a test provider; `{ hang: true }`: its JWKS accepts connections and never answers.
 *
 * @example
 * const provider = await startTestProvider()
 * const token = await provider.logoutToken({ sid: 'abc' })
 */
export async function startTestProvider({ hang = false } = {}): Promise<TestProvider> {
  let key = await keyPair('k1')
  let fetches = 0
  const server: Server = createServer((request, response) => {
    if (request.url === '/.well-known/openid-configuration') {
      response.setHeader('content-type', 'application/json')
      response.end(JSON.stringify({ issuer, jwks_uri: `${issuer}/jwks` }))
      return
    }
    if (request.url === '/jwks') {
      fetches++
      if (hang) return
      response.setHeader('content-type', 'application/json')
      response.end(JSON.stringify({ keys: [key.jwk] }))
      return
    }
    response.statusCode = 404
    response.end()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const sign: TestProvider['sign'] = (claims, header = {}, signingKey) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', kid: key.kid, typ: 'logout+jwt', ...header } as never)
      .sign(signingKey ?? key.privateKey)
  const withOverrides = (base: Record<string, unknown>, claims: Record<string, unknown>) => {
    const merged: Record<string, unknown> = { ...base, ...claims }
    for (const [name, value] of Object.entries(claims)) if (value === undefined) delete merged[name]
    return merged
  }
  return {
    issuer,
    jwksUri: `${issuer}/jwks`,
    jwksFetches: () => fetches,
    logoutToken: (claims = {}, header = {}, now = Math.floor(Date.now() / 1000)) =>
      sign(
        withOverrides(
          {
            iss: issuer,
            aud: AUDIENCE,
            iat: now,
            exp: now + 120,
            jti: randomUUID(),
            sub: 'provider-user-1',
            sid: 'provider-session-1',
            events: { [BACKCHANNEL_LOGOUT_EVENT]: {} },
          },
          claims,
        ),
        header,
      ),
    securityEvent: (events, claims = {}) =>
      sign(
        withOverrides(
          {
            iss: issuer,
            aud: AUDIENCE,
            iat: Math.floor(Date.now() / 1000),
            jti: randomUUID(),
            events,
          },
          claims,
        ),
        { typ: 'secevent+jwt' },
      ),
    sign,
    rotate: async () => {
      key = await keyPair(`k${Number(key.kid.slice(1)) + 1}`)
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
