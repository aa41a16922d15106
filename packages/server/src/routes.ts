import { type Context, Hono } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { type SSEStreamingApi, streamSSE } from 'hono/streaming'
import { type ClientScriptFile, clientScriptRoutes } from './client-script.ts'
import type { WardCore } from './core.ts'
import type { Devices } from './devices.ts'
import { answerUnmatched, badRequest, mountErrors, problemResponse } from './errors.ts'
import { identityProviderRoutes } from './idp-routes.ts'
import type { AccessTokens } from './jwt.ts'
import { describeDevice, type NewDeviceNotice } from './known-device.ts'
import {
  createMiddleware,
  createRequireSession,
  markPassive,
  refusalAnswer,
  requestState,
  type WardEnv,
} from './middleware.ts'
import { DEFAULT_PAGE, encodeCursor, isSessionId, MAX_PAGE, parsePage } from './paging.ts'
import {
  ACCESS_TOKENS_OFF,
  bodyTooLarge,
  DEVICES_OFF,
  invalidRequest,
  NO_SUCH_DEVICE,
  NO_SUCH_HELD_SESSION,
  NO_SUCH_SESSION,
  ORIGIN_REJECTED,
  type Problem,
  reportLinkInvalid,
  SESSION_TOKEN_REQUIRED,
} from './problems.ts'
import { parseIdleFor, pingAnswer } from './reconcile.ts'
import { confirmationPage, messagePage, REPORT_PAGE_CSP } from './report-page.ts'
import { endsAt, type HeldRoute, reconcileLastActivity } from './rules.ts'
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
    newDevice: (notice) => {
      stream
        .writeSSE({ event: 'new-device', data: newDeviceData(notice) })
        .catch(() => finish(null))
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
    // Not with known devices: it would drop the device cookie too, and every sign-in after a
    // logout would be a new device.
    if (core.options.cookie && !core.options.newDevice) c.header('Clear-Site-Data', '"cookies"')
    return c.body(null, 204)
  })
  // Public: the report link is its own credential (issue 23).
  app.get('/report', (c) => showReport(c, core))
  app.post('/report', bodyLimit({ maxSize: MAX_REPORT_BODY, onError: tooLarge }), (c) =>
    report(c, core),
  )
  // A held session (newDevice.hold) may use its own ping and events only (logout is above).
  app.use('*', createRequireSession(core, accessTokens, heldRoute))

  app.post(
    '/ping',
    bodyLimit({
      maxSize: MAX_PING_BODY,
      onError: (c) => problemResponse(c, bodyTooLarge(MAX_PING_BODY)),
    }),
    async (c) => {
      markPassive(c)
      let body: unknown
      try {
        body = JSON.parse(await c.req.text())
      } catch {
        return badRequest(c, 'the body must be JSON like {"idleFor": 12}')
      }
      const parsed = parseIdleFor(body)
      if ('message' in parsed) return badRequest(c, parsed.message)
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
    if ('message' in paged) return badRequest(c, paged.message)
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
      return problemResponse(c, NO_SUCH_SESSION)
    }
    if (id === session.id) clearSessionCookie(c, core.options)
    return c.body(null, 204)
  })

  app.delete('/sessions', async (c) => {
    const { session } = liveEntry(c)
    const others = c.req.query('others')
    if (others !== undefined && others !== 'true' && others !== 'false') {
      return badRequest(c, 'others must be true or false')
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
    if ('message' in paged) return badRequest(c, paged.message)
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
    if (!accessTokens) return problemResponse(c, ACCESS_TOKENS_OFF)
    const credentials = readCredentials(c, core.options)
    const entry = liveEntry(c)
    // Only the session token buys an access token: a leaked JWT cannot renew itself.
    if (credentials.kind !== 'token' || !isTokenShaped(credentials.token)) {
      return problemResponse(c, SESSION_TOKEN_REQUIRED)
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

  app.get('/devices', async (c) => {
    const { session } = liveEntry(c)
    if (!core.devices) return problemResponse(c, DEVICES_OFF)
    const devices = await core.devices.list(session.userId)
    return c.json({ devices: devices.map(describeDevice) })
  })

  app.delete(
    '/devices/:id',
    deviceRoute(core, NO_SUCH_DEVICE, ({ devices, session, id }) =>
      devices.forget(session.userId, id),
    ),
  )

  // "Yes, it was me" in a new-device notice: lets a held session of the user in.
  app.post(
    '/sessions/:id/approve',
    deviceRoute(core, NO_SUCH_HELD_SESSION, ({ devices, session, id }) =>
      devices.approve(session.userId, id),
    ),
  )

  // "Not you?" in a new-device notice: ends another of the user's sessions as reported.
  app.post(
    '/sessions/:id/report',
    deviceRoute(core, NO_SUCH_SESSION, async ({ devices, session, id, c }) => {
      if (!(await devices.reportSession(session.userId, id))) return false
      if (id === session.id) clearSessionCookie(c, core.options)
      return true
    }),
  )

  answerUnmatched(app)
  return app
}

// A report form's body is a token and a checkbox.
const MAX_REPORT_BODY = 1024

function tooLarge(c: Context): Response {
  return problemResponse(c, bodyTooLarge(MAX_REPORT_BODY))
}

/**
 * A new-device route on one of the caller's sessions or devices (`:id`): 404 `DEVICES_OFF`
 * without the newDevice option; 204 when `act`, given a well-formed id, found it among the
 * caller's, else `notFound`.
 */
function deviceRoute(
  core: WardCore,
  notFound: Problem,
  act: (target: {
    devices: Devices
    session: SessionInfo
    id: string
    c: Context
  }) => Promise<boolean>,
): (c: Context<WardEnv>) => Promise<Response> {
  return async (c) => {
    const { session } = liveEntry(c)
    if (!core.devices) return problemResponse(c, DEVICES_OFF)
    const id = c.req.param('id') ?? ''
    const found = isSessionId(id) && (await act({ devices: core.devices, session, id, c }))
    return found ? c.body(null, 204) : problemResponse(c, notFound)
  }
}

/**
 * A `new-device` event's data: the new session, its browser and OS, when it signed in, and
 * whether it waits for approval.
 */
function newDeviceData(notice: NewDeviceNotice): string {
  return JSON.stringify({
    sessionId: notice.sessionId,
    browser: notice.browser,
    os: notice.os,
    signedInAt: new Date(notice.at).toISOString(),
    held: notice.held === true,
  })
}

/** Which of the session routes a request is, as the hold rule sees them (rules.ts). */
function heldRoute(c: Context): HeldRoute {
  const last = c.req.path.slice(c.req.path.lastIndexOf('/') + 1)
  return last === 'ping' || last === 'events' ? last : 'other'
}

/** A report page: no referrer (the URL holds the link's token), nothing loaded, no framing. */
function reportPage(c: Context, html: string, status: 200 | 400 | 403 | 404): Response {
  c.header('Referrer-Policy', 'no-referrer')
  c.header('Content-Security-Policy', REPORT_PAGE_CSP)
  return c.html(html, status)
}

/** Whether the caller is a browser (a link opened, the confirmation page's form). */
function acceptsHtml(c: Context): boolean {
  return (c.req.header('accept') ?? '').includes('text/html')
}

/**
 * A report route's refusal: an HTML page to a browser, JSON `{"error","message"}` to anything
 * else (as every error under the ward's mounts).
 */
function refuseReport(c: Context, problem: Problem): Response {
  if (!acceptsHtml(c)) return problemResponse(c, problem)
  const status = problem.status as 400 | 403 | 404
  return reportPage(c, messagePage('This link cannot be used', problem.message), status)
}

/** GET /report?token=…: the confirmation page (or why the link cannot be used); changes nothing. */
async function showReport(c: Context<WardEnv>, core: WardCore): Promise<Response> {
  if (!core.devices) return refuseReport(c, DEVICES_OFF)
  const token = c.req.query('token') ?? ''
  const use = await core.devices.inspect(token)
  const session = use.kind === 'valid' ? await core.store.findById(use.sessionId) : null
  if (use.kind === 'refused' || !session) {
    return refuseReport(c, reportLinkInvalid(use.kind === 'refused' ? use.why : 'unknown'))
  }
  const { browser, os } = parseUserAgent(session.userAgent)
  return reportPage(c, confirmationPage(token, { browser, os, at: session.createdAt }), 200)
}

/** The report form's fields, from a form post or JSON: the token, and "every other session". */
async function reportFields(
  c: Context,
): Promise<{ token: string; others: boolean; approve: boolean } | string> {
  const type = c.req.header('content-type') ?? ''
  let fields: Record<string, unknown> = {}
  if (type.startsWith('application/json')) {
    let parsed: unknown = null
    try {
      parsed = JSON.parse(await c.req.text())
    } catch {
      // Answered below, as any other body that is not an object.
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      return 'the body must be a JSON object like {"token": "swr_…", "others": false}'
    }
    fields = parsed as Record<string, unknown>
  } else if (type.startsWith('application/x-www-form-urlencoded')) {
    fields = Object.fromEntries(new URLSearchParams(await c.req.text()))
  }
  const token = fields.token ?? c.req.query('token')
  const others = fields.others ?? false
  const approve = fields.approve ?? false
  if (typeof token !== 'string') return 'send the report link’s token (token=…)'
  const flag = (value: unknown) =>
    value === true || value === false || value === 'true' || value === 'false'
  if (!flag(others)) return 'others must be true or false'
  if (!flag(approve)) return 'approve must be true or false'
  return {
    token,
    others: others === true || others === 'true',
    approve: approve === true || approve === 'true',
  }
}

/**
 * POST /report: ends the session the link names (`reported`), once; with `others`, every other
 * session of the user but the reporter's own. HTML for a browser's form, JSON otherwise.
 */
async function report(c: Context<WardEnv>, core: WardCore): Promise<Response> {
  const refuse = (problem: Problem): Response => refuseReport(c, problem)
  if (!core.devices) return refuse(DEVICES_OFF)
  const fields = await reportFields(c)
  if (typeof fields === 'string') {
    return refuse(invalidRequest(fields))
  }
  if (fields.approve) return approveByLink(c, core.devices, fields.token)
  const state = requestState(c)
  // "Every other session" keeps the reporter's own, named by its cookie: CSRF rules apply.
  if (fields.others && state?.refusal?.kind === 'origin_rejected') {
    return refuse(refusalAnswer(state, ORIGIN_REJECTED))
  }
  const own = state?.entry?.session ?? null
  const outcome = await core.devices.report(fields.token, {
    sessionId: own?.id ?? null,
    ownerId: own?.userId ?? null,
    endOthers: fields.others,
  })
  if (outcome.kind === 'refused') return refuse(reportLinkInvalid(outcome.why))
  if (acceptsHtml(c)) {
    const others = fields.others ? ` ${outcome.endedOthers} other session(s) ended too.` : ''
    return reportPage(
      c,
      messagePage(
        'Session ended',
        `The reported session has ended.${others} Change your password now.`,
      ),
      200,
    )
  }
  return c.json({ ended: outcome.sessionId, endedOthers: outcome.endedOthers })
}

/**
 * POST /report with `approve`: "Yes, it was me" on the link's page. The link is spent and the
 * session it names, if held (`newDevice.hold`), is let in.
 */
async function approveByLink(
  c: Context<WardEnv>,
  devices: Devices,
  token: string,
): Promise<Response> {
  const use = await devices.approveByLink(token)
  if (use.kind === 'refused') return refuseReport(c, reportLinkInvalid(use.why))
  if (acceptsHtml(c)) {
    return reportPage(
      c,
      messagePage('Thank you', 'That sign-in was yours: nothing was ended.'),
      200,
    )
  }
  return c.json({ approved: use.sessionId })
}
