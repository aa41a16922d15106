import express, {
  type ErrorRequestHandler,
  type Express as ExpressApp,
  type Request as ExpressRequest,
  type Response as ExpressResponse,
  type RequestHandler,
} from 'express'
import type { CreatedSession, SessionInfo } from '../session.ts'
import type { Ward } from '../ward.ts'
import {
  appendSetCookies,
  bodilessRequest,
  type NodeRequest,
  oncePerRequest,
  requestWithBody,
  writeResponse,
} from './node.ts'
import { mountedRoutes } from './routes-at.ts'
import { SignInRefused } from './sign-in-refused.ts'

export { SignInRefused } from './sign-in-refused.ts'

declare global {
  namespace Express {
    interface Request {
      /**
       * The live session (frozen), or null: set by `sw.middleware()` and `sw.requireSession()`
       * (behind `requireSession()` it is never null).
       */
      session: Readonly<SessionInfo> | null
    }
  }
}

/** `expressWard(ward)`: the ward's middleware, routes and sign-in for an Express 5 app. */
export interface ExpressWard {
  /**
   * Reads a token if present and sets `req.session` (null without a live session); never
   * answers by itself. Requests under `sw.routes()`' mount are left to the routes.
   */
  middleware(): RequestHandler
  /**
   * Answers the ward's JSON refusal (401 with `WWW-Authenticate`, 403 `origin_rejected`, 429,
   * 503) unless the request has a live session; reads the token itself when `middleware()` has
   * not.
   */
  requireSession(): RequestHandler
  /**
   * The session routes (ping, logout, devices, history, events, token, the browser script) as
   * an Express sub-app: `app.use('/session', sw.routes())`.
   */
  routes(): ExpressApp
  /**
   * Starts a session for `userId` once the app has checked the password: sets the cookie on
   * `res` (when cookies are on) and resolves to `{ token, session, evicted }`. A refused sign-in
   * (403 `origin_rejected`, 403 `session_limit`) rejects with a `SignInRefused`, which
   * `sw.errors()` answers with its JSON.
   */
  signIn(req: ExpressRequest, res: ExpressResponse, userId: string): Promise<CreatedSession>
  /** Error middleware answering a `SignInRefused` with the ward's JSON; other errors pass on. */
  errors(): ErrorRequestHandler
}

/** The request as the ward sees it: Express's protocol and host (under `trust proxy`, forwarded). */
function seen(req: ExpressRequest): NodeRequest {
  return {
    method: req.method,
    url: `${req.protocol}://${req.get('host') ?? 'localhost'}${req.originalUrl}`,
    headers: req.headers,
  }
}

/**
 * The ward for an Express 5 app. The client address is Express's `req.ip` (so `trust proxy`
 * decides whether X-Forwarded-For counts); a `clientIp` option of the ward still decides first.
 *
 * @example
 * const sw = expressWard(ward)
 * app.use(sw.middleware())
 * app.use('/session', sw.routes())
 * app.get('/api/me', sw.requireSession(), (req, res) => res.json({ userId: req.session.userId }))
 */
export function expressWard(ward: Ward): ExpressWard {
  const decide = oncePerRequest((req: ExpressRequest) =>
    ward.authenticate(bodilessRequest(seen(req)), { ip: req.ip }),
  )
  // Where routes() sub-apps are mounted (Express tells a sub-app on mount): middleware() leaves
  // those requests to the routes, which decide themselves (ping is not activity, logout of an
  // ended session is not an error).
  const routeMounts = new Set<string>()

  function underRoutes(req: ExpressRequest): boolean {
    const path = req.originalUrl.split('?')[0] ?? ''
    for (const mount of routeMounts) {
      if (path === mount || path.startsWith(mount.endsWith('/') ? mount : `${mount}/`)) return true
    }
    return false
  }

  return {
    middleware: () => async (req, res, next) => {
      if (underRoutes(req)) {
        req.session = null
        return next()
      }
      const outcome = await decide(req)
      // A dead cookie is dropped even on a request that goes on without a session.
      appendSetCookies(res, outcome.headers)
      req.session = 'session' in outcome ? outcome.session : null
      next()
    },
    requireSession: () => async (req, res, next) => {
      const outcome = await decide(req)
      if ('problem' in outcome) return writeResponse(res, outcome.response)
      req.session = outcome.session
      next()
    },
    routes: () => {
      const sub = express()
      const routesAt = mountedRoutes(ward)
      sub.on('mount', () => {
        for (const path of [sub.mountpath].flat()) {
          if (typeof path === 'string') routeMounts.add(path)
        }
      })
      sub.use(async (req, res) => {
        const request = requestWithBody(seen(req), req, req.body)
        const env = { incoming: { socket: { remoteAddress: req.ip } } }
        writeResponse(res, await routesAt(req.baseUrl).fetch(request, env))
      })
      return sub
    },
    signIn: async (req, res, userId) => {
      const outcome = await ward.signIn(bodilessRequest(seen(req)), userId, { ip: req.ip })
      if ('problem' in outcome) throw new SignInRefused(outcome)
      appendSetCookies(res, outcome.headers)
      const { headers: _sent, ...created } = outcome
      return created
    },
    errors: () => (error, _req, res, next) => {
      if (!(error instanceof SignInRefused) || res.headersSent) return next(error)
      writeResponse(res, error.refusal.response)
    },
  }
}
