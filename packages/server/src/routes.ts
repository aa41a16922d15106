import { type Context, Hono } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { type SSEStreamingApi, streamSSE } from 'hono/streaming'
import { type ClientScriptFile, clientScriptRoutes } from './client-script.ts'
import type { WardCore } from './core.ts'
import { answerUnmatched, mountErrors, problemResponse } from './errors.ts'
import { identityProviderRoutes } from './idp-routes.ts'
import type { AccessTokens } from './jwt.ts'
import {
  createMiddleware,
  createRequireSession,
  markPassive,
  requestState,
  type WardEnv,
} from './middleware.ts'
import { DEFAULT_PAGE, encodeCursor, isSessionId, MAX_PAGE, parsePage } from './paging.ts'
import { parseIdleFor, pingAnswer } from './reconcile.ts'
import { endsAt, reconcileLastActivity } from './rules.ts'
import type { SessionInfo } from './session.ts'
import type { CachedSession } from './session-cache.ts'
import { hashToken, isTokenShaped } from './tokens.ts'
import { clearSessionCookie, readCredentials, setSessionCookie } from './transport.ts'
import { parseUserAgent } from './user-agent.ts'
import type { EndReason, SessionPolicy } from './vocabulary.ts'

// A ping body is a dozen bytes; anything near this size is not a ping.
const MAX_PING_BODY = 1024
// The history's page when no limit is asked for: the whole log at the default logLimit.
const HISTORY_PAGE = 20

function describe(record: SessionInfo) {
  return {
    id: record.id,
    createdAt: record.createdAt.toISOString(),
    lastActivityAt: record.lastActivityAt.toISOString(),
    expiresAt: record.expiresAt.toISOString(),
    ip: record.lastIp ?? record.ip,
    userAgent: parseUserAgent(record.userAgent),
    // Which provider the user signed in through; its subject and session ids stay server-side.
    idp: record.idp && { issuer: record.idp.issuer },
  }
}

/** The request's `?limit=` and `?cursor=` for a user's list (1 to MAX_PAGE rows a page). */
function readPage(c: Context, defaultLimit: number): ReturnType<typeof parsePage> {
  return parsePage(
    { limit: c.req.query('limit'), cursor: c.req.query('cursor') },
    { defaultLimit, max: MAX_PAGE },
  )
}

function badQuery(c: Context, message: string): Response {
  return problemResponse(c, { status: 400, error: 'invalid_request', message })
}

/** The hash of the session token the request sent (not a JWT, not garbage), or null. */
function sentTokenHash(c: Context, core: WardCore): string | null {
  const credentials = readCredentials(c, core.options)
  if (credentials.kind !== 'token' || !isTokenShaped(credentials.token)) return null
  return hashToken(credentials.token)
}

/** The request's live session; every route here runs behind requireSession. */
function liveEntry(c: Context<WardEnv>): CachedSession {
  const entry = requestState(c)?.entry
  if (!entry) throw new Error('unreachable: requireSession let a request through')
  return entry
}

// A comment line this often keeps proxies and load balancers from closing an idle stream.
const KEEPALIVE_INTERVAL = 15_000

/** The thresholds a client takes from a `policy` event, as from a ping answer. */
function thresholds(policy: SessionPolicy): string {
  return JSON.stringify({ warnAfter: policy.warnAfter, expireAfter: policy.expireAfter })
}

/**
 * One `/session/events` stream (DESIGN §3): the session's thresholds at once and after each
 * change, a keepalive comment every KEEPALIVE_INTERVAL, and `ended` with the reason the moment
 * the session ends on any instance, after which the stream closes.
 */
async function streamEvents(
  core: WardCore,
  entry: CachedSession,
  stream: SSEStreamingApi,
): Promise<void> {
  const { id } = entry.session
  let finish: (reason: EndReason | null) => void = () => {}
  const finished = new Promise<EndReason | null>((resolve) => {
    finish = resolve
  })
  const unwatch = core.watchers.watch(id, {
    ended: (reason) => finish(reason),
    policyChanged: (policy) => {
      stream.writeSSE({ event: 'policy', data: thresholds(policy) }).catch(() => finish(null))
    },
    closed: () => finish(null),
  })
  stream.onAbort(() => finish(null))
  const keepalive = setInterval(() => {
    stream.write(': keepalive\n\n').catch(() => finish(null))
  }, KEEPALIVE_INTERVAL)
  try {
    await stream.writeSSE({ event: 'policy', data: thresholds(entry.policy) })
    // An end between the request's check and the watch above is not missed.
    const endedMeanwhile = core.endedReason(entry.tokenHash)
    if (endedMeanwhile) finish(endedMeanwhile)
    const reason = await finished
    if (reason) await stream.writeSSE({ event: 'ended', data: JSON.stringify({ reason }) })
  } finally {
    clearInterval(keepalive)
    unwatch()
  }
}

/**
 * The user's session routes (DESIGN §3): ping, logout, devices list and revoke, history, and
 * the public browser script. Every other route needs a live session.
 */
export function createRoutes(
  core: WardCore,
  clientScript: ClientScriptFile,
  accessTokens?: AccessTokens,
): Hono<WardEnv> {
  const app = new Hono<WardEnv>()
  app.onError(mountErrors(core.options.logger, 'route'))
  // Public and before the session is read: a page loads its script before anyone signs in.
  app.route('/', clientScriptRoutes(clientScript))
  // Every other answer here is about a session (or carries a token): never stored by a cache.
  app.use('*', async (c, next) => {
    await next()
    c.res.headers.set('Cache-Control', 'no-store')
  })
  // Server to server, before the session is read: a provider sends no session token.
  app.route('/', identityProviderRoutes(core))
  // The routes work whether or not the app mounted ward.middleware(): it runs once either way.
  app.use('*', createMiddleware(core, accessTokens))
  // Registered before requireSession: logging out of a session that has already ended is not
  // an error, and it is where a kept session_ended cookie gets cleared.
  app.post('/logout', async (c, next) => {
    const { entry = null, refusal = null } = requestState(c) ?? {}
    const tokenHash = sentTokenHash(c, core) ?? undefined
    if (entry) {
      // Never revived: if the store is out, refused here at once and retried until stored.
      await core.endings.endForGood({ id: entry.session.id, tokenHash }, 'logout')
    } else if (refusal?.kind === 'ended') {
      // A retried logout is confirmed only once the database holds the end (503 until then).
      if (tokenHash) await core.endings.confirm(tokenHash)
    } else if (refusal?.kind === 'store_unavailable' && tokenHash) {
      // The token could not even be checked: whatever session it names ends, by its hash.
      await core.endings.endForGood({ tokenHash }, 'logout')
    } else {
      return next()
    }
    clearSessionCookie(c, core.options)
    // Cookie mode only: the browser drops the cookie even if Set-Cookie is lost (secure contexts).
    if (core.options.cookie) c.header('Clear-Site-Data', '"cookies"')
    return c.body(null, 204)
  })
  app.use('*', createRequireSession(core, accessTokens))

  app.post(
    '/ping',
    bodyLimit({
      maxSize: MAX_PING_BODY,
      onError: (c) =>
        problemResponse(c, {
          status: 400,
          error: 'invalid_request',
          message: `the body must be at most ${MAX_PING_BODY} bytes`,
        }),
    }),
    async (c) => {
      markPassive(c)
      let body: unknown
      try {
        body = JSON.parse(await c.req.text())
      } catch {
        return problemResponse(c, {
          status: 400,
          error: 'invalid_request',
          message: 'the body must be JSON like {"idleFor": 12}',
        })
      }
      const parsed = parseIdleFor(body)
      if ('message' in parsed) {
        return problemResponse(c, {
          status: 400,
          error: 'invalid_request',
          message: parsed.message,
        })
      }
      const entry = liveEntry(c)
      const now = Date.now()
      const lastActivityAt = reconcileLastActivity(
        entry.session.lastActivityAt.getTime(),
        now,
        parsed.idleFor,
      )
      core.sessions.recordActivity(entry, lastActivityAt, core.options.clientIp(c))
      return c.json(
        pingAnswer(
          entry.session.lastActivityAt.getTime(),
          endsAt(entry.session, entry.policy),
          now,
          entry.policy,
        ),
      )
    },
  )

  app.get('/events', (c) => {
    // Listening is not activity: an open stream never keeps a session alive.
    markPassive(c)
    // nginx buffers proxied answers unless told not to; a buffered stream delivers nothing.
    c.header('X-Accel-Buffering', 'no')
    // Cache-Control: the no-store every answer here gets replaces streamSSE's no-cache.
    return streamSSE(c, (stream) => streamEvents(core, liveEntry(c), stream))
  })

  app.get('/sessions', async (c) => {
    const { session } = liveEntry(c)
    const paged = readPage(c, DEFAULT_PAGE)
    if ('message' in paged) return badQuery(c, paged.message)
    const { rows, next } = await core.liveSessions(session.userId, paged.page)
    return c.json({
      sessions: rows.map((record) => ({
        // The current session's cached copy has activity not yet written to the row.
        ...describe(record.id === session.id ? session : record),
        current: record.id === session.id,
      })),
      nextCursor: next && encodeCursor(next),
    })
  })

  app.delete('/sessions/:id', async (c) => {
    const { session } = liveEntry(c)
    const id = c.req.param('id')
    // Not found and not yours get the same answer, so ids of other users cannot be probed.
    // Never revived: if the store is out, refused here at once and retried until stored.
    const endedRecords = isSessionId(id)
      ? await core.endings.endForGood({ id, userId: session.userId }, 'revoked')
      : []
    if (endedRecords.length === 0) {
      return problemResponse(c, {
        status: 404,
        error: 'not_found',
        message: 'no live session with this id among yours',
      })
    }
    if (id === session.id) clearSessionCookie(c, core.options)
    return c.body(null, 204)
  })

  app.delete('/sessions', async (c) => {
    const { session } = liveEntry(c)
    const others = c.req.query('others')
    if (others !== undefined && others !== 'true' && others !== 'false') {
      return problemResponse(c, {
        status: 400,
        error: 'invalid_request',
        message: 'others must be true or false',
      })
    }
    const keepCurrent = others === 'true'
    const endedRecords = await core.endings.end(
      keepCurrent ? { userId: session.userId, exceptId: session.id } : { userId: session.userId },
      'revoked',
    )
    if (!keepCurrent) clearSessionCookie(c, core.options)
    return c.json({ ended: endedRecords.length })
  })

  app.get('/history', async (c) => {
    const { session } = liveEntry(c)
    const paged = readPage(c, HISTORY_PAGE)
    if ('message' in paged) return badQuery(c, paged.message)
    const { rows, next } = await core.store.listEndedPage(session.userId, paged.page)
    return c.json({
      sessions: rows.map((record) => ({
        ...describe(record),
        endedAt: record.endedAt?.toISOString() ?? null,
        endReason: record.endReason,
      })),
      nextCursor: next && encodeCursor(next),
    })
  })

  app.post('/token', async (c) => {
    // Issuing a token is bookkeeping, not something the user did.
    markPassive(c)
    if (!accessTokens) {
      return problemResponse(c, {
        status: 404,
        error: 'not_found',
        message: 'JWT access tokens are off: set the jwt option of createWard',
      })
    }
    const credentials = readCredentials(c, core.options)
    const entry = liveEntry(c)
    // Only the session token buys an access token: a leaked JWT cannot renew itself.
    if (credentials.kind !== 'token' || !isTokenShaped(credentials.token)) {
      return problemResponse(c, {
        status: 401,
        error: 'unauthenticated',
        message: 'POST /session/token needs the session token, not an access token',
        invalidToken: true,
      })
    }
    const tokenHash = hashToken(credentials.token)
    let token: string | undefined
    if (accessTokens.options.rotateOnRefresh) {
      const rotated = await accessTokens.rotate(entry, tokenHash)
      if ('problem' in rotated) {
        if (credentials.source === 'cookie') clearSessionCookie(c, core.options)
        return problemResponse(c, rotated.problem)
      }
      // No token when this request lost a concurrent refresh: the winner's stays the one live token.
      token = rotated.token
      if (token) {
        const maxAge = (entry.session.expiresAt.getTime() - Date.now()) / 1000
        setSessionCookie(c, core.options, token, maxAge)
      }
    } else {
      accessTokens.remember(entry.session.id, tokenHash)
    }
    const issued = await accessTokens.issue(entry.session)
    // A cookie token stays HttpOnly: it is never put in a body a script could read.
    return c.json(token && credentials.source !== 'cookie' ? { ...issued, token } : issued)
  })

  answerUnmatched(app)
  return app
}
