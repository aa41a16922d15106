import type { JSXNode } from 'hono/jsx'
import { jsx as h } from 'hono/jsx'
import { encodeCursor } from '../paging.ts'
import type { AdminFilters, AdminPage, AdminSession, HourlyActivity } from '../store.ts'
import { parseUserAgent } from '../user-agent.ts'
import { END_REASONS } from '../vocabulary.ts'
import { activityChart } from './chart.ts'
import { filterQuery } from './filters.ts'

// Server-rendered with hono/jsx through `jsx()` calls rather than JSX syntax: Node runs the
// package's .ts sources directly and cannot strip types from .tsx files.
// No inline script or style anywhere: the pages work under `default-src 'self'`.

/** Links and form actions are absolute paths under wherever the admin routes are mounted. */
export interface PageContext {
  base: string
  now: number
}

function time(date: Date | null) {
  if (!date) return '—'
  const text = `${date.toISOString().slice(0, 19).replace('T', ' ')} UTC`
  return h('time', { datetime: date.toISOString() }, text)
}

function inputTime(date: Date | undefined): string {
  return date ? date.toISOString().slice(0, 16) : ''
}

function status(session: AdminSession, now: number): string {
  if (session.endedAt) return `ended: ${session.endReason ?? 'unknown'}`
  // Expiry is enforced when the session is next used; until then the row is still open.
  return session.expiresAt.getTime() <= now ? 'live (past its absolute end)' : 'live'
}

function browser(userAgent: string): string {
  const parsed = parseUserAgent(userAgent)
  return [parsed.browser, parsed.os, parsed.device].filter(Boolean).join(' · ') || 'unknown'
}

/**
 * A whole admin page around `content`.
 *
 * @example
 * c.html(page('Sessions', { base: '/admin/sessions', now: Date.now() }, h('p', null, 'hi')))
 */
export function page(title: string, context: PageContext | null, ...content: unknown[]): string {
  const document = h(
    'html',
    { lang: 'en' },
    h(
      'head',
      null,
      h('meta', { charset: 'utf-8' }),
      h('meta', { name: 'viewport', content: 'width=device-width, initial-scale=1' }),
      h('meta', { name: 'referrer', content: 'same-origin' }),
      h('title', null, `${title} · sessionward admin`),
      context ? h('link', { rel: 'stylesheet', href: `${context.base}/admin.css` }) : null,
    ),
    h(
      'body',
      null,
      context
        ? h(
            'header',
            null,
            h('nav', { 'aria-label': 'Admin' }, h('a', { href: context.base }, 'All sessions')),
          )
        : null,
      h('main', null, h('h1', null, title), ...(content as JSXNode[])),
    ),
  )
  return `<!doctype html>${document.toString()}`
}

function endButton(context: PageContext, session: AdminSession) {
  return h(
    'form',
    { method: 'post', action: `${context.base}/${session.id}/end`, class: 'inline' },
    h(
      'button',
      {
        type: 'submit',
        'data-testid': 'end-session',
        'aria-label': `End session ${session.id} of ${session.userId}`,
      },
      'End',
    ),
  )
}

function filterForm(context: PageContext, filters: AdminFilters) {
  const field = (name: string, label: string, control: JSXNode) =>
    h('p', null, h('label', { for: `f-${name}` }, label), control)
  const option = (value: string, label: string, selected: boolean) =>
    h('option', { value, selected }, label)
  return h(
    'form',
    {
      method: 'get',
      action: context.base,
      class: 'filters',
      role: 'search',
      'aria-label': 'Filter sessions',
    },
    field(
      'user',
      'User',
      h('input', { id: 'f-user', name: 'user', value: filters.user ?? '', maxlength: 255 }),
    ),
    field(
      'live',
      'Status',
      h(
        'select',
        { id: 'f-live', name: 'live' },
        option('', 'any', filters.live === undefined),
        option('true', 'live', filters.live === true),
        option('false', 'ended', filters.live === false),
      ),
    ),
    field(
      'reason',
      'End reason',
      h(
        'select',
        { id: 'f-reason', name: 'reason' },
        option('', 'any', filters.reason === undefined),
        ...END_REASONS.map((reason) => option(reason, reason, filters.reason === reason)),
      ),
    ),
    ...(['createdAfter', 'createdBefore', 'endedAfter', 'endedBefore'] as const).map((name) =>
      field(
        name,
        `${name.startsWith('created') ? 'Started' : 'Ended'} ${name.endsWith('After') ? 'from' : 'before'} (UTC)`,
        h('input', {
          id: `f-${name}`,
          name,
          type: 'datetime-local',
          value: inputTime(filters[name]),
        }),
      ),
    ),
    h(
      'p',
      { class: 'actions' },
      h('button', { type: 'submit' }, 'Filter'),
      ' ',
      h('a', { href: context.base }, 'Clear'),
    ),
  )
}

/**
 * The session list: filters, the 24-hour chart, one page of sessions and a link to the next.
 *
 * @example
 * c.html(listPage(context, filters, await listSessions(em, filters), activity))
 */
export function listPage(
  context: PageContext,
  filters: AdminFilters,
  result: AdminPage,
  activity: HourlyActivity,
): string {
  const rows = result.sessions.map((session) =>
    h(
      'tr',
      { 'data-session-id': session.id, 'data-user-id': session.userId },
      h(
        'td',
        null,
        h(
          'a',
          { href: `${context.base}${filterQuery({ user: session.userId, limit: filters.limit })}` },
          session.userId,
        ),
      ),
      h(
        'td',
        null,
        h('a', { href: `${context.base}/${session.id}` }, h('code', null, session.id.slice(0, 8))),
      ),
      h('td', { 'data-testid': 'status' }, status(session, context.now)),
      h('td', null, time(session.createdAt)),
      h('td', null, time(session.lastActivityAt)),
      h('td', null, time(session.endedAt ?? session.expiresAt)),
      h('td', null, session.lastIp ?? session.ip ?? '—'),
      h('td', null, browser(session.userAgent)),
      h('td', null, session.endedAt ? '' : endButton(context, session)),
    ),
  )
  const next = result.next
    ? h(
        'a',
        {
          href: `${context.base}${filterQuery(filters, { cursor: encodeCursor(result.next) })}`,
          rel: 'next',
        },
        'Next page →',
      )
    : null
  return page(
    'Sessions',
    context,
    filterForm(context, filters),
    filters.user !== undefined
      ? h(
          'form',
          {
            method: 'post',
            action: `${context.base}/end${filterQuery({ user: filters.user, limit: filters.limit })}`,
          },
          h(
            'button',
            { type: 'submit', 'data-testid': 'end-user-sessions' },
            `End every live session of ${filters.user}`,
          ),
        )
      : null,
    h(
      'section',
      { 'aria-labelledby': 'activity' },
      h('h2', { id: 'activity' }, 'Last 24 hours (counts refresh every 30 s)'),
      activityChart(activity),
    ),
    h(
      'section',
      { 'aria-labelledby': 'list' },
      h('h2', { id: 'list' }, 'Sessions, newest first'),
      rows.length === 0
        ? h('p', null, 'No session matches these filters.')
        : h(
            'table',
            { 'data-testid': 'sessions' },
            h(
              'thead',
              null,
              h(
                'tr',
                null,
                ...[
                  'User',
                  'Session',
                  'Status',
                  'Started',
                  'Last activity',
                  'Ends / ended',
                  'IP',
                  'Browser',
                  '',
                ].map((label) => h('th', { scope: 'col' }, label)),
              ),
            ),
            h('tbody', null, ...rows),
          ),
      h(
        'nav',
        { 'aria-label': 'Pages', class: 'pages' },
        filters.cursor
          ? h('a', { href: `${context.base}${filterQuery(filters)}` }, 'First page')
          : null,
        ' ',
        next,
      ),
    ),
  )
}

/**
 * One session's details (never its token or hash).
 *
 * @example
 * c.html(detailPage(context, session))
 */
export function detailPage(context: PageContext, session: AdminSession): string {
  const parsed = parseUserAgent(session.userAgent)
  const item = (term: string, value: unknown) => [
    h('dt', null, term),
    h('dd', null, value as JSXNode),
  ]
  return page(
    `Session ${session.id.slice(0, 8)}`,
    context,
    h(
      'dl',
      { 'data-testid': 'session' },
      ...item('Id', h('code', null, session.id)),
      ...item(
        'User',
        h(
          'a',
          { href: `${context.base}${filterQuery({ user: session.userId, limit: 50 })}` },
          session.userId,
        ),
      ),
      ...item('Status', status(session, context.now)),
      ...item('Started', time(session.createdAt)),
      ...item('Last activity', time(session.lastActivityAt)),
      ...item('Absolute end', time(session.expiresAt)),
      ...item('Ended', time(session.endedAt)),
      ...item('End reason', session.endReason ?? '—'),
      ...item('Login IP', session.ip ?? '—'),
      ...item('Last IP', session.lastIp ?? '—'),
      ...item(
        'Browser',
        [parsed.browser, parsed.os, parsed.device].filter(Boolean).join(' · ') || 'unknown',
      ),
      ...item('User agent', h('code', null, session.userAgent || '—')),
      ...item(
        'Identity provider',
        session.idp
          ? `${session.idp.issuer} (subject ${session.idp.sub}${session.idp.sid ? `, session ${session.idp.sid}` : ''})`
          : '—',
      ),
      ...item('Note', session.detail ?? '—'),
    ),
    session.endedAt ? null : endButton(context, session),
  )
}

/**
 * The HTML answer to a refused or failed admin request (the JSON one carries the same code).
 *
 * @example
 * c.html(errorPage('forbidden', 'this account may not use the admin view'), 403)
 */
export function errorPage(code: string, message: string): string {
  const titles: Record<string, string> = {
    unauthenticated: 'Sign in required',
    session_ended: 'Your session has ended',
    forbidden: 'Not allowed',
    origin_rejected: 'Request refused',
    not_found: 'Not found',
    invalid_request: 'Bad request',
    store_unavailable: 'Try again shortly',
  }
  return page(titles[code] ?? 'Error', null, h('p', { 'data-error': code }, message))
}
