import { backoff, type Shared } from './machine.ts'
import type { Server } from './server.ts'
import type { Tabs } from './tabs.ts'

/** How long an expiring tab waits for its logout request's answer before it tells the others. */
export const LOGOUT_WAIT = 2000

/** What the end of a session in this tab needs of the ward that ended. */
export interface Leaving {
  server: Server
  tabs: Tabs
  /** Where things stand, for the other tabs (when this tab decided the end). */
  shared(): Shared
  /** True once a new session started here: retries stop, nothing navigates. */
  restarted(): boolean
  /**
   * Where to go now, with the reason, or null when not leaving (a new session started here,
   * the ward was stopped, or the app handles the end itself: `redirectTo` unset).
   */
  destination(): string | null
  navigate(url: string): void
  /** Hides the page, or shows it again (the ward's veil). */
  veil(hidden: boolean): void
}

/**
 * The `end` effect, performed: sends the logout request (`logout`), tells the other tabs (`own`:
 * this tab decided), leaves the channel, retries a logout that did not get through (or that
 * another tab could not get through: `retry`) until the server settles it, and redirects.
 * @example
 * await leave(leaving, { own: true, logout: true, retry: false })
 */
export async function leave(
  leaving: Leaving,
  { own, logout, retry }: { own: boolean; logout: boolean; retry: boolean },
): Promise<void> {
  const { server, tabs, veil } = leaving
  // Runs after the expire event has been announced, so listeners see it before navigation.
  await undefined
  let confirmed = !logout
  let settled: Promise<boolean> | boolean = confirmed && !retry
  if (logout) {
    // Log out before telling the other tabs, so none of them reaches the login page while the
    // server still knows the session.
    settled = server.logout().then((done) => (confirmed = done))
    await Promise.race([settled, new Promise((resolve) => setTimeout(resolve, LOGOUT_WAIT))])
  }
  // Not confirmed in time: every tab retries it, so none leaves for a login page that may
  // send a still signed-in user back, and a tab that closes takes no retry with it.
  if (!confirmed) tabs.post({ type: 'unconfirmed' })
  if (own) tabs.post({ type: 'sync', shared: leaving.shared() })
  tabs.close()
  // Each tab stays (logged out locally) until the server settles it; navigating away would
  // end the retries.
  for (let failures = 1; !(await settled); failures++) {
    await new Promise((resolve) => setTimeout(resolve, backoff(failures)))
    // A new session started here: a retry would end it (the cookie is shared).
    if (leaving.restarted()) return
    settled = server.logout()
  }
  const url = leaving.destination()
  // Not leaving: show the page.
  if (url === null) return veil(false)
  // The back button may restore this page, signed-in content and all, from the back/forward
  // cache: it is hidden as it goes in (not before: `navigate` may be an app's router, which
  // keeps this document), and leaves again at once.
  window.addEventListener('pagehide', (event) => {
    if (event.persisted) veil(true)
  })
  window.addEventListener('pageshow', (event) => {
    if (event.persisted && !leaving.restarted()) leaving.navigate(url)
  })
  leaving.navigate(url)
}
