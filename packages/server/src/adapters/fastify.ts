import type {
  FastifyInstance,
  FastifyPluginAsync,
  FastifyReply,
  FastifyRequest,
  preHandlerAsyncHookHandler,
} from 'fastify'
import type { CreatedSession, SessionInfo } from '../session.ts'
import type { Ward } from '../ward.ts'
import { bodilessRequest, type NodeRequest, oncePerRequest, requestWithBody } from './node.ts'
import { mountedRoutes } from './routes-at.ts'

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * The live session (frozen), or null: read for every request outside the session routes
     * (behind `app.sessionward.requireSession` it is never null).
     */
    session: Readonly<SessionInfo> | null
  }
  interface FastifyInstance {
    /** The ward's guard and sign-in, from `app.register(fastifyWard, { ward })`. */
    sessionward: FastifySessionward
  }
}

/** What `app.register(fastifyWard, options)` takes. */
export interface FastifyWardOptions {
  ward: Ward
  /** Where the session routes are mounted (default `/session`). */
  prefix?: string
}

/** `app.sessionward`. */
export interface FastifySessionward {
  /**
   * A `preHandler` answering the ward's JSON refusal (401 with `WWW-Authenticate`, 403
   * `origin_rejected`, 429, 503) unless the request has a live session.
   */
  requireSession: preHandlerAsyncHookHandler
  /**
   * Starts a session for `userId` once the app has checked the password: adds the cookie to
   * `reply` (when cookies are on) and resolves to `{ token, session, evicted }`. A refused
   * sign-in (403 `origin_rejected`, 403 `session_limit`) is answered on `reply` with the ward's
   * JSON and resolves to undefined, so `return app.sessionward.signIn(request, reply, userId)`
   * answers either way.
   */
  signIn(
    request: FastifyRequest,
    reply: FastifyReply,
    userId: string,
  ): Promise<CreatedSession | undefined>
}

/** The request as the ward sees it: Fastify's protocol and host (forwarded under `trustProxy`). */
function seen(request: FastifyRequest): NodeRequest {
  return {
    method: request.method,
    url: `${request.protocol}://${request.host}${request.url}`,
    headers: request.headers,
  }
}

function addSetCookies(reply: FastifyReply, headers: Headers): void {
  for (const cookie of headers.getSetCookie()) reply.header('set-cookie', cookie)
}

/**
 * The ward as a Fastify 5 plugin: `request.session` on every request, the session routes under
 * `prefix`, and `app.sessionward.requireSession` / `.signIn`. The client address is Fastify's
 * `request.ip` (so `trustProxy` decides whether X-Forwarded-For counts); a `clientIp` option of
 * the ward still decides first.
 *
 * @example
 * await app.register(fastifyWard, { ward, prefix: '/session' })
 * app.get('/api/me', { preHandler: app.sessionward.requireSession }, (request) => ({
 *   userId: request.session?.userId,
 * }))
 */
const plugin: FastifyPluginAsync<FastifyWardOptions> = async (app, options) => {
  const { ward } = options
  const base = (options.prefix ?? '/session').replace(/\/+$/, '')
  const decide = oncePerRequest((request: FastifyRequest) =>
    ward.authenticate(bodilessRequest(seen(request)), { ip: request.ip }),
  )
  const underRoutes = (request: FastifyRequest) => {
    const path = request.url.split('?')[0] ?? ''
    return path === base || path.startsWith(`${base}/`)
  }

  app.decorateRequest('session', null)
  // The session routes decide themselves (a ping is not activity, logout of an ended session is
  // not an error); every other request gets its session before any handler runs.
  app.addHook('onRequest', async (request, reply) => {
    if (underRoutes(request)) return
    const outcome = await decide(request)
    // A dead cookie is dropped even on a request that goes on without a session.
    addSetCookies(reply, outcome.headers)
    request.session = 'session' in outcome ? outcome.session : null
  })
  const sessionward: FastifySessionward = {
    requireSession: async (request, reply) => {
      const outcome = await decide(request)
      if ('problem' in outcome) return reply.send(outcome.response)
      request.session = outcome.session
    },
    signIn: async (request, reply, userId) => {
      const outcome = await ward.signIn(bodilessRequest(seen(request)), userId, { ip: request.ip })
      if ('problem' in outcome) {
        await reply.send(outcome.response)
        return undefined
      }
      addSetCookies(reply, outcome.headers)
      const { headers: _sent, ...created } = outcome
      return created
    },
  }
  app.decorate('sessionward', sessionward)

  const routesAt = mountedRoutes(ward)
  await app.register(
    async (routes: FastifyInstance) => {
      // The ward reads the bodies itself (its own limits and JSON errors): no parser of Fastify's.
      routes.removeAllContentTypeParsers()
      routes.addContentTypeParser('*', (_request, _payload, done) => done(null))
      routes.all('/*', async (request, reply) => {
        const fetched = requestWithBody(seen(request), request.raw, undefined)
        const env = { incoming: { socket: { remoteAddress: request.ip } } }
        return reply.send(await routesAt(base).fetch(fetched, env))
      })
    },
    { prefix: base },
  )
}

// Like fastify-plugin: the hook and decorators reach the app that registers it.
Object.assign(plugin, {
  [Symbol.for('skip-override')]: true,
  [Symbol.for('fastify.display-name')]: 'sessionward',
  [Symbol.for('plugin-meta')]: { name: 'sessionward', fastify: '5.x' },
})

/**
 * The ward as a Fastify 5 plugin.
 *
 * @example
 * await app.register(fastifyWard, { ward, prefix: '/session' })
 */
export const fastifyWard = plugin
