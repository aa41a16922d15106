import type { Context, MiddlewareHandler } from 'hono'
import { Hono } from 'hono'
import { accepts } from 'hono/accepts'
import { HTTPException } from 'hono/http-exception'
import type { WardCore } from '../core.ts'
import {
  answerUnmatched,
  badRequest,
  mountErrors,
  problemResponse,
  WardOptionsError,
} from '../errors.ts'
import { describeDevice } from '../known-device.ts'
import { refusalAnswer, requestState, type WardEnv } from '../middleware.ts'
import { encodeCursor, isSessionId } from '../paging.ts'
import {
  ADMIN_FORBIDDEN,
  ADMIN_UNAUTHENTICATED,
  NO_SUCH_ADMIN_SESSION,
  notFound,
  type Problem,
} from '../problems.ts'
import type { AdminFilters, AdminSession, HourlyActivity } from '../store.ts'
import { expiryAt } from '../sweep.ts'
import { clearSessionCookie } from '../transport.ts'
import { parseUserAgent } from '../user-agent.ts'
import { filterQuery, parseListQuery, userProblem } from './filters.ts'
import { detailPage, errorPage, listPage, type PageContext } from './pages.ts'
import { ADMIN_CSS } from './styles.ts'

/** What `ward.adminRoutes()` takes. */
export interface AdminRoutesOptions {
  /**
   * Whether the signed-in caller may use the admin view. Called only when the request has a
   * live session (`c.var.session`); anything but `true` is a 403.
   */
  authorize: (c: Context<WardEnv>) => boolean | Promise<boolean>
}

const CHART_TTL = 30_000

// The admin pages' own policy, on top of whatever the host sends: no framing (the End buttons
// must not be clickjacked), forms post only to this origin, nothing inline.
const HTML_HEADERS: Record<string, string> = {
  'Content-Security-Policy':
    "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
  'X-Frame-Options': 'DENY',
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'same-origin',
  'Cache-Control': 'no-store',
}

const HTML = 'text/html'
const JSON_TYPE = 'application/json'

/**
 * Which of HTML and JSON the caller's Accept prefers; `fallback` when it names neither or both
 * equally (any type). Pages fall back to HTML (a browser), errors to JSON (an API client).
 */
function preferred(c: Context, fallback: typeof HTML | typeof JSON_TYPE): string {
  const other = fallback === HTML ? JSON_TYPE : HTML
  return accepts(c, { header: 'Accept', supports: [fallback, other], default: fallback })
}

function html(c: Context, body: string, status: 200 | 401 | 403 | 404 | 400 | 503 = 200) {
  for (const [name, value] of Object.entries(HTML_HEADERS)) c.header(name, value)
  return c.html(body, status)
}

function refuse(c: Context, problem: Problem): Response | Promise<Response> {
  if (preferred(c, JSON_TYPE) !== HTML) return problemResponse(c, problem)
  if (problem.status === 401) c.header('WWW-Authenticate', 'Bearer realm="sessionward"')
  const status = ([401, 403, 404, 400, 503] as const).find((s) => s === problem.status) ?? 400
  return html(c, errorPage(problem.error, problem.message), status)
}

/** The mount path: the request path minus the route's own `depth` trailing segments. */
function baseOf(c: Context, depth: number): string {
  const segments = c.req.path.replace(/\/+$/, '').split('/')
  return segments.slice(0, segments.length - depth).join('/')
}

function describe(session: AdminSession) {
  return {
    id: session.id,
    userId: session.userId,
    live: session.endedAt === null,
    createdAt: session.createdAt.toISOString(),
    lastActivityAt: session.lastActivityAt.toISOString(),
    expiresAt: session.expiresAt.toISOString(),
    endedAt: session.endedAt?.toISOString() ?? null,
    endReason: session.endReason,
    ip: session.ip,
    lastIp: session.lastIp,
    userAgent: parseUserAgent(session.userAgent),
    detail: session.detail,
    idp: session.idp,
  }
}

/** After a form post, back to the page it came from when that page is ours, else `fallback`. */
function back(c: Context, base: string, fallback: string): Response {
  const referer = c.req.header('referer')
  let target = fallback
  if (referer && URL.canParse(referer)) {
    const url = new URL(referer)
    const own = url.origin === new URL(c.req.url).origin
    // Only pages of this admin mount: never an open redirect.
    if (own && (url.pathname === base || url.pathname.startsWith(`${base}/`))) {
      target = url.pathname + url.search
    }
  }
  return c.redirect(target, 303)
}

/**
 * The admin view (DESIGN §3 "Admin"): a JSON API and server-rendered pages to list, filter,
 * inspect and end sessions. Every route needs a live session for which `authorize(c)` is true:
 * 401 without one, 403 when not authorized (JSON, or an HTML page for a browser).
 *
 * `GET /` (`?user=&live=&reason=&createdAfter=&createdBefore=&endedAfter=&endedBefore=&cursor=&limit=`),
 * `GET /:id`, `DELETE /:id`, `DELETE /?user=ID`; for HTML forms, which cannot send DELETE:
 * `POST /:id/end` and `POST /end?user=ID`.
 *
 * @example
 * app.route('/admin/sessions', ward.adminRoutes({ authorize: (c) => c.var.session?.userId === 'admin' }))
 */
export function createAdminRoutes(
  core: WardCore,
  options: AdminRoutesOptions,
  identify: MiddlewareHandler<WardEnv>,
): Hono<WardEnv> {
  if (typeof options !== 'object' || options === null || typeof options.authorize !== 'function') {
    throw new WardOptionsError('adminRoutes needs { authorize: (c) => boolean | Promise<boolean> }')
  }
  const { authorize } = options
  const app = new Hono<WardEnv>()
  app.onError(mountErrors(core.options.logger, 'admin route', refuse))

  // The chart counts a day of rows (tens of ms on a busy table): one count per CHART_TTL per
  // process serves every page view in between, so the list stays fast however often it loads.
  let chart: { at: number; data: Promise<HourlyActivity> } | undefined
  const activity = (now: number): Promise<HourlyActivity> => {
    if (!chart || now - chart.at >= CHART_TTL || now < chart.at) {
      const data = core.store.hourlyActivity(now)
      const current = { at: now, data }
      chart = current
      data.catch(() => {
        if (chart === current) chart = undefined
      })
    }
    return chart.data
  }

  const guard: MiddlewareHandler<WardEnv> = async (c, next) => {
    const state = requestState(c)
    // No live session: the middleware's reason (ended, cross-origin cookie, store down) or 401.
    if (!state?.entry) return refuse(c, refusalAnswer(state, ADMIN_UNAUTHENTICATED))
    let allowed = false
    try {
      allowed = (await authorize(c)) === true
    } catch (error) {
      if (error instanceof HTTPException) throw error
      // Fail closed: an authorize that throws lets nobody in.
      core.options.logger.error('sessionward: adminRoutes authorize threw', error)
    }
    if (!allowed) return refuse(c, ADMIN_FORBIDDEN)
    c.header('Cache-Control', 'no-store')
    await next()
  }
  app.use('*', identify, guard)

  app.get('/admin.css', (c) => {
    c.header('Content-Type', 'text/css; charset=utf-8')
    c.header('X-Content-Type-Options', 'nosniff')
    return c.body(ADMIN_CSS)
  })

  app.get('/', async (c) => {
    const parsed = parseListQuery(c.req.query())
    if ('message' in parsed) return badRequest(c, parsed.message)
    const { filters } = parsed
    const result = await core.store.adminPage(filters, expiryAt(Date.now(), core.options))
    if (preferred(c, HTML) === JSON_TYPE) {
      return c.json({
        sessions: result.sessions.map(describe),
        nextCursor: result.next ? encodeCursor(result.next) : null,
      })
    }
    const now = Date.now()
    const counts = await activity(now)
    return html(c, listPage({ base: baseOf(c, 0), now }, filters, result, counts))
  })

  const endAll = async (c: Context<WardEnv>, depth: number) => {
    const query = c.req.query()
    const user = query.user
    if (Object.keys(query).some((name) => name !== 'user' && name !== 'limit')) {
      return badRequest(c, 'only user may be given: ?user=ID')
    }
    if (user === undefined || user === '') {
      return badRequest(
        c,
        'user is required (?user=ID): the admin ends one user’s sessions at a time',
      )
    }
    const problem = userProblem(user)
    if (problem) return badRequest(c, problem)
    const ended = await core.endings.end({ userId: user }, 'admin')
    if (ended.some((record) => record.id === c.var.session?.id)) clearSessionCookie(c, core.options)
    if (preferred(c, JSON_TYPE) !== HTML || c.req.method === 'DELETE')
      return c.json({ ended: ended.length })
    const base = baseOf(c, depth)
    return back(c, base, `${base}${filterQuery({ user, limit: 50 } satisfies AdminFilters)}`)
  }
  app.delete('/', (c) => endAll(c, 0))
  app.post('/end', (c) => endAll(c, 1))

  const endOne = async (c: Context<WardEnv>, depth: number) => {
    const id = c.req.param('id') ?? ''
    if (!isSessionId(id)) return refuse(c, NO_SUCH_ADMIN_SESSION)
    // Never revived: if the store is out, refused here at once and retried until stored.
    const ended = await core.endings.endForGood({ id }, 'admin')
    if (ended.length === 0) {
      const existing = await core.store.adminSession(id)
      const why = existing && `the session already ended (${existing.endReason ?? 'unknown'})`
      return refuse(c, why ? notFound(why) : NO_SUCH_ADMIN_SESSION)
    }
    if (id === c.var.session?.id) clearSessionCookie(c, core.options)
    if (preferred(c, JSON_TYPE) !== HTML || c.req.method === 'DELETE') return c.body(null, 204)
    const base = baseOf(c, depth)
    return back(c, base, `${base}/${id}`)
  }
  // A user's known devices (`newDevice` on), as JSON: ?user=ID.
  app.get('/devices', async (c) => {
    const user = c.req.query('user') ?? ''
    const problem = user === '' ? 'user is required (?user=ID)' : userProblem(user)
    if (problem) return badRequest(c, problem)
    const devices = core.devices ? await core.devices.list(user) : []
    return c.json({ devices: devices.map(describeDevice) })
  })

  app.delete('/:id', (c) => endOne(c, 1))
  app.post('/:id/end', (c) => endOne(c, 2))

  app.get('/:id', async (c) => {
    const id = c.req.param('id')
    const session = isSessionId(id) ? await core.store.adminSession(id) : null
    if (!session) return refuse(c, NO_SUCH_ADMIN_SESSION)
    if (preferred(c, HTML) === JSON_TYPE) return c.json({ session: describe(session) })
    return html(c, detailPage({ base: baseOf(c, 1), now: Date.now() }, session))
  })

  answerUnmatched(app)
  return app
}

export type { PageContext }
