// The report link's pages (issue 23): plain HTML, no script and no inline style, so the
// strictest Content-Security-Policy serves them. Pure strings: the edge (routes.ts) answers.

/** The Content-Security-Policy of the report pages: nothing loads, the form posts to itself. */
export const REPORT_PAGE_CSP = "default-src 'none'; form-action 'self'; frame-ancestors 'none'"

/** What the confirmation page says of the sign-in. */
export interface ReportedSignIn {
  browser: string | null
  os: string | null
  at: Date
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`)
}

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta name="robots" content="noindex"><title>${escapeHtml(title)}</title></head>
<body><main><h1>${escapeHtml(title)}</h1>
${body}
</main></body>
</html>
`
}

/**
 * The page a report link's GET shows: what signed in, and the form whose POST ends it. Opening
 * it changes nothing (mail scanners open links).
 *
 * @example
 * confirmationPage(token, { browser: 'Firefox', os: 'Windows', at: session.createdAt })
 */
export function confirmationPage(token: string, signIn: ReportedSignIn): string {
  const what = `${signIn.browser ?? 'An unknown browser'} on ${signIn.os ?? 'an unknown system'}`
  return page(
    'Was this you?',
    `<p>A new sign-in to your account: ${escapeHtml(what)}, at ${escapeHtml(signIn.at.toISOString())}.</p>
<p>If it was not you, end that session now, then change your password.</p>
<form method="post">
<input type="hidden" name="token" value="${escapeHtml(token)}">
<p><label><input type="checkbox" name="others" value="true"> and every other session (except this browser's)</label></p>
<p><button type="submit">It was not me: end that session</button></p>
<p><button type="submit" name="approve" value="true">Yes, it was me</button></p>
</form>`,
  )
}

/**
 * A report page without a form: done, or why the link cannot be used.
 *
 * @example
 * messagePage('Session ended', 'The session was ended.')
 */
export function messagePage(title: string, text: string): string {
  return page(title, `<p>${escapeHtml(text)}</p>`)
}
