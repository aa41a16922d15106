import { type Context, Hono } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import type { WardCore } from './core.ts'
import { badRequest, problemResponse } from './errors.ts'
import type { Received } from './identity-providers.ts'
import { isRefusal, type Refusal } from './idp-tokens.ts'
import type { WardEnv } from './middleware.ts'
import { bodyTooLarge, tooManyInvalidIdpTokens } from './problems.ts'
import { addressKey } from './throttle.ts'

// The identity providers' routes under the session mount: server to server, so they read no
// session, take no cookie and need no CSRF check. The rules are in idp-tokens.ts, the work in
// identity-providers.ts; here only the HTTP of Back-Channel Logout 1.0 §2.5/§2.8 and RFC 8935.

// A logout token or a SET is a few kilobytes; a body much larger is not one.
const MAX_BODY = 64 * 1024

/** The media type of the request, lowercase, without parameters. */
function mediaType(c: Context): string {
  return (c.req.header('content-type') ?? '').split(';')[0]?.trim().toLowerCase() ?? ''
}

/**
 * Runs `receive` unless the client's address is over its limit of refused tokens; a token
 * taken gives its count back, so a provider sending many valid logouts is never throttled.
 */
async function throttled(
  core: WardCore,
  c: Context,
  receive: () => Promise<Received>,
  refuse: (refusal: Refusal) => Response,
): Promise<Response | Received> {
  const counter = core.throttles.idpTokens
  const ip = core.options.clientIp(c)
  const key = ip === undefined ? null : addressKey(ip)
  if (counter && key !== null) {
    const wait = await counter.attempt(key)
    if (wait > 0) return problemResponse(c, tooManyInvalidIdpTokens(wait))
  }
  const received = await receive()
  if (isRefusal(received)) return refuse(received)
  if (counter && key !== null) await counter.refund(key)
  return received
}

/**
 * `POST /backchannel-logout` (OpenID Connect Back-Channel Logout 1.0) and `POST /ssf` (RFC 8935
 * push delivery of Security Event Tokens).
 */
export function identityProviderRoutes(core: WardCore): Hono<WardEnv> {
  const app = new Hono<WardEnv>()
  const limit = (refuse: (c: Context, message: string) => Response) =>
    bodyLimit({
      maxSize: MAX_BODY,
      onError: (c) => refuse(c, bodyTooLarge(MAX_BODY).message),
    })
  const eventRefusal = (c: Context, message: string, err: Refusal['refused'] = 'invalid_request') =>
    c.json({ err, description: message }, 400)

  app.post('/backchannel-logout', limit(badRequest), async (c) => {
    if (mediaType(c) !== 'application/x-www-form-urlencoded') {
      return badRequest(c, 'the body must be application/x-www-form-urlencoded')
    }
    const tokens = new URLSearchParams(await c.req.text()).getAll('logout_token')
    if (tokens.length !== 1 || !tokens[0]) {
      return badRequest(c, 'the body must hold exactly one logout_token')
    }
    const token = tokens[0]
    const answer = await throttled(
      core,
      c,
      () => core.identityProviders.backchannelLogout(token),
      // §2.8: every invalid logout token is a 400; the message says which rule it broke.
      (refusal) => badRequest(c, refusal.message),
    )
    return answer instanceof Response ? answer : c.body(null, 200)
  })

  app.post('/ssf', limit(eventRefusal), async (c) => {
    if (mediaType(c) !== 'application/secevent+jwt') {
      return eventRefusal(c, 'the body must be application/secevent+jwt')
    }
    const token = (await c.req.text()).trim()
    if (token === '') return eventRefusal(c, 'the body holds no Security Event Token')
    const answer = await throttled(
      core,
      c,
      () => core.identityProviders.securityEvent(token),
      (refusal) => eventRefusal(c, refusal.message, refusal.refused),
    )
    return answer instanceof Response ? answer : c.body(null, 202)
  })
  return app
}
