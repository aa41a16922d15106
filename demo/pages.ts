import type { SessionPolicy } from '@sessionward/server'
import { html } from 'hono/html'
import type { HtmlEscapedString } from 'hono/utils/html'
import type { PublicUser } from './users.ts'

// Pages are `hono/html` templates rather than JSX: `npm start` runs this file with Node's type
// stripping, which does not transform JSX. Every interpolated value is escaped.

type Html = HtmlEscapedString | Promise<HtmlEscapedString>

/**
 * Why the login page was reached, for every end reason the ward has: the SDK redirects with
 * `?reason=` set to the reason the session ended with. Anything else gets `ENDED_TEXT`.
 */
export const REASONS: Record<string, string> = {
  idle: 'You were signed out after a period of inactivity.',
  logout: 'You signed out.',
  evicted: 'You were signed out because this account signed in on too many devices.',
  revoked: 'This session was signed out from another device.',
  absolute: 'Your session reached its maximum length. Please sign in again.',
  admin: 'An administrator ended your session.',
  user_agent_changed: 'Your session was ended because the browser changed.',
  refresh_reuse:
    'Your session was ended because an old sign-in token was used again. Please sign in again.',
  idp_logout: 'You were signed out at your identity provider.',
  idp_revoked: 'Your identity provider ended this session. Please sign in again.',
  reported: 'This sign-in was reported as not yours and has been ended.',
  screen_lock: 'You were signed out because your screen locked.',
}

/** The neutral text for a reason the demo does not know. */
export const ENDED_TEXT = 'Your session has ended.'

interface LayoutProps {
  title: string
  user: PublicUser | null
  /** The signed-in user's policy: starts the SDK with it. */
  policy?: SessionPolicy
  current?: 'dashboard' | 'devices' | 'react'
  scripts?: string[]
  /**
   * The header's SDK state and Sign out button (ward-ui.js, over the script tag's ward). The
   * React page shows its own, from the hook.
   */
  wardUi?: boolean
  body: Html
  /** The page's language and direction; the SDK's dialog follows `lang`. Default English. */
  lang?: string
  dir?: 'ltr' | 'rtl'
}

/** The policy a page starts the SDK with, and the demo's client-side switches. */
export type PagePolicy = SessionPolicy & { endOnScreenLock?: boolean }

/** The SDK's script tag, started with the user's policy (also used by demo/tailwind.ts). */
export function wardScript(policy: PagePolicy): Html {
  // The SDK starts itself from these attributes; the server's ping answers refine the timings.
  return html`<script
      src="/assets/sessionward.iife.js"
      data-ping-url="/session/ping"
      data-logout-url="/session/logout"
      data-redirect-to="/login?reason=idle"
      data-warn-after="${policy.warnAfter}"
      data-expire-after="${policy.expireAfter}"
      ${policy.endOnScreenLock ? html`data-end-on-screen-lock` : ''}
    ></script>`
}

function layout({
  title,
  user,
  policy,
  current,
  scripts = [],
  wardUi = true,
  body,
  lang = 'en',
  dir = 'ltr',
}: LayoutProps): Html {
  const link = (href: string, label: string, name: LayoutProps['current']) =>
    html`<a href="${href}" ${current === name ? html`aria-current="page"` : ''}>${label}</a>`
  return html`<!doctype html>
<html lang="${lang}" dir="${dir}">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>${title} · sessionward demo</title>
    <link rel="icon" href="/assets/favicon.svg" type="image/svg+xml" />
    <link rel="stylesheet" href="/assets/demo.css" />
  </head>
  <body>
    <header class="top">
      <a class="brand" href="/">sessionward <span>demo</span></a>
      ${
        user
          ? html`<nav aria-label="Main">
              ${link('/', 'Dashboard', 'dashboard')} ${link('/devices', 'Devices', 'devices')}
              ${link('/react', 'React', 'react')}
              ${user.role === 'admin' ? html`<a href="/admin/sessions">Admin</a>` : ''}
            </nav>
            <div class="who">
              ${
                wardUi
                  ? html`<span class="pill" title="What the sessionward SDK in this tab reports">
                      <span data-ward="state" class="state">starting</span>
                      <span data-ward="countdown" class="muted"></span>
                    </span>`
                  : ''
              }
              <span data-testid="user-name">${user.name}</span>
              ${user.role === 'admin' ? html`<span class="badge">admin</span>` : ''}
              ${wardUi ? html`<button type="button" class="link" data-action="sign-out">Sign out</button>` : ''}
            </div>`
          : ''
      }
    </header>
    <main>${body}</main>
    ${policy ? wardScript(policy) : ''}
    ${scripts.map((src) => html`<script src="${src}"></script>`)}
  </body>
</html>`
}

/** `/login`: a plain form; the reason for being here, and the demo accounts. */
export function loginPage(props: {
  reason?: string
  error?: string
  username?: string
  /** The demo signs in through an identity provider too (`/login/idp`). */
  identityProvider?: boolean
}): Html {
  // Own keys only: `?reason=constructor` must not pick up Object.prototype's.
  const reason =
    props.reason && (Object.hasOwn(REASONS, props.reason) ? REASONS[props.reason] : ENDED_TEXT)
  return layout({
    title: 'Sign in',
    user: null,
    scripts: ['/assets/login.js'],
    body: html`<section class="card narrow">
      <h1>Sign in</h1>
      ${
        reason
          ? html`<p class="notice" role="status" data-testid="login-reason" data-reason="${props.reason}" data-messages="${JSON.stringify(REASONS)}">
              ${reason}
            </p>`
          : ''
      }
      ${props.error ? html`<p class="error" role="alert" data-testid="login-error">${props.error}</p>` : ''}
      <form method="post" action="/login" class="form">
        <label for="username">Username</label>
        <input id="username" name="username" autocomplete="username" required value="${props.username ?? ''}" />
        <label for="password">Password</label>
        <input id="password" name="password" type="password" autocomplete="current-password" required />
        <button type="submit">Sign in</button>
      </form>
      ${
        props.identityProvider
          ? html`<p><a href="/login/idp" data-testid="idp-sign-in">Sign in with the identity provider</a></p>`
          : ''
      }
      <p class="hint">Demo accounts: <code>alice</code>/<code>alice</code>, <code>bob</code>/<code>bob</code>,
        <code>admin</code>/<code>admin</code>.</p>
    </section>`,
  })
}

function seconds(value: number): string {
  return `${Number.isInteger(value) ? value : value.toFixed(1)}\u00a0s`
}

/** `/`: the SDK's live state, a countdown, the server's view of the last activity. */
export function dashboardPage(props: {
  user: PublicUser
  policy: SessionPolicy
  lastActivityAt: Date
}): Html {
  const { user, policy } = props
  return layout({
    title: 'Dashboard',
    user,
    policy,
    current: 'dashboard',
    scripts: ['/assets/ward-ui.js', '/assets/dashboard.js'],
    body: html`<h1>Hello, ${user.name}</h1>
      <p class="lead">
        Leave this browser alone: a warning appears after ${seconds(policy.warnAfter)} and you are signed out
        after ${seconds(policy.expireAfter)}. Activity in any tab of this browser counts for all of them.
      </p>
      <div class="grid">
        <section class="card" aria-labelledby="state-title">
          <h2 id="state-title">Session state</h2>
          <p class="big"><output data-testid="ward-state" data-ward="state" class="state">starting</output></p>
          <p class="muted">Reported by the SDK: <code>active</code>, <code>warning</code>, <code>expired</code>.</p>
        </section>
        <section class="card" aria-labelledby="countdown-title">
          <h2 id="countdown-title">Signed out in</h2>
          <p class="big"><span data-testid="countdown" data-ward="countdown">–</span></p>
          <p class="muted">Without activity in any tab of this browser.</p>
        </section>
        <section class="card" aria-labelledby="activity-title">
          <h2 id="activity-title">Last activity</h2>
          <p class="big">
            <time data-testid="last-activity" datetime="${props.lastActivityAt.toISOString()}"
              >${props.lastActivityAt.toISOString().slice(11, 19)}</time
            >
          </p>
          <p class="muted"><span data-testid="last-activity-ago"></span> As the server knows it (a passive poll
            every 5 s).</p>
        </section>
      </div>
      <section class="card" aria-labelledby="policy-title">
        <h2 id="policy-title">Your policy</h2>
        <ul class="facts">
          <li>Warning after <strong>${seconds(policy.warnAfter)}</strong> without activity</li>
          <li>Signed out after <strong>${seconds(policy.expireAfter)}</strong> without activity</li>
          <li>
            ${
              policy.maxSessions > 0
                ? html`At most <strong>${policy.maxSessions}</strong> sessions at once (the least recently active is
                    signed out)`
                : html`No limit on sessions at once`
            }
          </li>
        </ul>
        <p class="actions">
          <button type="button" data-action="call-me">Call <code>/api/me</code> (counts as activity)</button>
          <button type="button" class="secondary" data-action="poll">Call <code>/api/poll</code> (passive)</button>
        </p>
        <p class="muted" data-testid="api-result" aria-live="polite"></p>
      </section>`,
  })
}

/** `/devices`: filled in by devices.js from the ward's `/session/sessions` and `/history`. */
export function devicesPage(props: { user: PublicUser; policy: SessionPolicy }): Html {
  return layout({
    title: 'Your devices',
    user: props.user,
    policy: props.policy,
    current: 'devices',
    scripts: ['/assets/ward-ui.js', '/assets/devices.js'],
    body: html`<h1>Your devices</h1>
      <section class="card" aria-labelledby="live-title">
        <div class="row">
          <h2 id="live-title">Signed in</h2>
          <button type="button" class="secondary" data-action="revoke-others">Sign out everywhere else</button>
        </div>
        <p class="muted" data-testid="devices-status" role="status"></p>
        <table class="sessions" data-testid="sessions">
          <thead>
            <tr><th scope="col">Device</th><th scope="col">IP address</th><th scope="col">Signed in</th>
              <th scope="col">Last active</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr>
          </thead>
          <tbody><tr><td colspan="5" class="muted">Loading…</td></tr></tbody>
        </table>
      </section>
      <section class="card" aria-labelledby="history-title">
        <h2 id="history-title">Recently signed out</h2>
        <table class="sessions" data-testid="history">
          <thead>
            <tr><th scope="col">Device</th><th scope="col">IP address</th><th scope="col">Signed in</th>
              <th scope="col">Ended</th><th scope="col">Why</th></tr>
          </thead>
          <tbody><tr><td colspan="5" class="muted">Loading…</td></tr></tbody>
        </table>
      </section>`,
  })
}

/** Any unknown page. */
/**
 * `/language/:tag`: the same signed-in page in another language as far as the SDK can tell
 * (`<html lang>`), so its warning dialog speaks it, right to left for Arabic, Hebrew and Persian.
 */
export function languagePage(props: {
  user: PublicUser
  policy: SessionPolicy
  lang: string
  dir: 'ltr' | 'rtl'
}): Html {
  const { user, policy, lang, dir } = props
  return layout({
    title: `Language ${lang}`,
    user,
    policy,
    lang,
    dir,
    scripts: ['/assets/ward-ui.js'],
    body: html`<section class="card" aria-labelledby="language-title">
      <h1 id="language-title" data-testid="page-language">${lang}</h1>
      <p>
        This page says <code>&lt;html lang="${lang}"&gt;</code>: the warning dialog loads that
        language's texts and shows them${dir === 'rtl' ? ' right to left' : ''}. Try
        <a href="/language/ar-EG">ar-EG</a>, <a href="/language/he">he</a>,
        <a href="/language/pt-BR">pt-BR</a>, <a href="/language/zh-TW">zh-TW</a>.
      </p>
    </section>`,
  })
}

export function notFoundPage(user: PublicUser | null): Html {
  return layout({
    title: 'Not found',
    user,
    body: html`<section class="card narrow"><h1>Not found</h1><p><a href="/">Back to the dashboard</a></p></section>`,
  })
}

/**
 * `/react`: the same session, shown by a React component through `useSessionWard()` of
 * `@sessionward/client/react` (demo/react/main.tsx). The page has no script tag: the provider
 * runs the only ward. `unavailable` says why the page's script could not be built.
 */
export function reactPage(props: {
  user: PublicUser
  policy: SessionPolicy
  unavailable: string | null
}): Html {
  const { user, policy } = props
  return layout({
    title: 'React',
    user,
    current: 'react',
    wardUi: false,
    scripts: props.unavailable ? [] : ['/assets/react-page.js'],
    body: html`<h1>React, ${user.name}</h1>
      <p class="lead">
        This page runs the SDK through <code>SessionWardProvider</code> and <code>useSessionWard()</code>
        from <code>@sessionward/client/react</code>, headless: the component below is the whole interface.
        Pause holds the session open (a video, a long form) until you resume.
      </p>
      ${
        props.unavailable
          ? html`<section class="card" data-testid="react-unavailable">
              <h2>The React page could not be built</h2>
              <p class="muted">${props.unavailable}</p>
              <p>The rest of the demo works: <a href="/">back to the dashboard</a>.</p>
            </section>`
          : html`<div id="root" data-warn-after="${policy.warnAfter}" data-expire-after="${policy.expireAfter}">
              <p class="muted">Loading…</p>
            </div>`
      }`,
  })
}
