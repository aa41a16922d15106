import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import type { SessionPolicy } from '@sessionward/server'
import { html } from 'hono/html'
import type { HtmlEscapedString } from 'hono/utils/html'
import { wardScript } from './pages.ts'
import type { PublicUser } from './users.ts'

// `/tailwind`: a page styled as a Tailwind v4 app is, to show that the SDK's dialog keeps its
// place and its colours under a host page's CSS (issue 13, item 8; the e2e checks it).

/**
 * Rules an app adds on top of the preflight: inherited text styles on `<body>` and grey
 * headings, the kind that turned the dialog's title grey before it had its own shadow root.
 */
const APP_CSS = `body{font-family:ui-serif,Georgia,serif;color:#374151;text-align:center;letter-spacing:.05em;padding:2rem}
h1{font-size:1.5rem;font-weight:700;margin-bottom:1rem}
h2{color:#6b7280;text-transform:uppercase;font-size:.875rem}
p{margin-top:.5rem}`

/** The page's stylesheets, as `[asset name, CSS]`; none without the `tailwindcss` dev dependency. */
export function tailwindAssets(): [string, string][] {
  let preflight: string
  try {
    // The real file of the pinned tailwindcss 4 (root devDependency), read, never built.
    preflight = readFileSync(
      createRequire(import.meta.url).resolve('tailwindcss/preflight.css'),
      'utf8',
    )
  } catch {
    return []
  }
  return [
    ['tailwind-preflight.css', preflight],
    ['tailwind-app.css', APP_CSS],
  ]
}

/** The page itself: the preflight, the app's rules, the SDK's script tag and its state. */
export function tailwindPage(props: {
  user: PublicUser
  policy: SessionPolicy
}): HtmlEscapedString | Promise<HtmlEscapedString> {
  return html`<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>Tailwind preflight · sessionward demo</title>
    <link rel="icon" href="/assets/favicon.svg" type="image/svg+xml" />
    <link rel="stylesheet" href="/assets/tailwind-preflight.css" />
    <link rel="stylesheet" href="/assets/tailwind-app.css" />
  </head>
  <body>
    <main>
      <h1>A page under Tailwind v4's preflight</h1>
      <h2 data-testid="page-heading">Hello, ${props.user.name}</h2>
      <p>
        The SDK is <output data-testid="ward-state" data-ward="state">starting</output>; signed out in
        <span data-ward="countdown">–</span> without activity.
      </p>
      <p><a href="/">Back to the dashboard</a></p>
    </main>
    ${wardScript(props.policy)}
    <script src="/assets/ward-ui.js"></script>
  </body>
</html>`
}
