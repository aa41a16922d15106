// Issue 13, items 1, 11 and 13 in real Chromium tabs: "Stay signed in" reaches the server when
// the leader tab is frozen or its requests hang; a logout refused during an outage is retried
// until the server ends the session; the back button after a logout never shows a signed-in
// page. See docs/client.md ("Stay", "Logout during an outage", "The back button").
import type { Browser, BrowserContext, Page, Request, Route } from 'playwright-core'
import { afterAll, beforeAll, describe, it } from 'vitest'
import {
  chromiumSkipReason,
  launchFreezableChromium,
  logOf,
  newDevice,
} from './support/chromium.ts'
import { type RunningDemo, startBrowserAndDemo } from './support/demo.ts'
import {
  dialogOpen,
  keepBusy,
  LONG,
  openTab,
  sessionIdOf,
  signIn,
  stateOf,
  until,
  waitForLogin,
  waitForState,
} from './support/pages.ts'

// The warning lasts EXPIRE_AFTER - WARN_AFTER = 12 s: room to click "Stay" 4–5 s before the end.
const WARN_AFTER = 8
const EXPIRE_AFTER = 20
/** "Stay" is clicked when the countdown shows this many seconds or fewer (issue 13: 4–5 s). */
const STAY_AT = 5

/** The running demo's address, for the helpers below. */
let demoUrl = ''

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Seconds the warning's countdown shows (read inside the dialog's shadow root). */
function countdownOf(page: Page): Promise<number> {
  return page.evaluate(() => {
    const text =
      document
        .querySelector('sessionward-dialog')
        ?.shadowRoot?.querySelector('[data-sessionward="countdown"]')?.textContent ?? ''
    const [minutes = 'NaN', seconds = 'NaN'] = text.split(':')
    return Number(minutes) * 60 + Number(seconds)
  })
}

/** Waits until the countdown shows `seconds` or fewer, and returns what it showed. */
async function countdownReaches(page: Page, seconds: number): Promise<number> {
  await page.waitForFunction(
    (limit) => {
      const text =
        document
          .querySelector('sessionward-dialog')
          ?.shadowRoot?.querySelector('[data-sessionward="countdown"]')?.textContent ?? ''
      const [minutes, rest] = text.split(':')
      return Number(minutes) * 60 + Number(rest) <= limit
    },
    seconds,
    { timeout: LONG, polling: 100 },
  )
  return countdownOf(page)
}

/**
 * Signs `user` in on a first tab (the leader: it takes the election first) and opens the
 * dashboard in a second; counts each tab's pings from then on.
 */
async function twoTabs(context: BrowserContext, user: string) {
  const leader = await context.newPage()
  const leaderPings = countPings(leader)
  await signIn(leader, demoUrl, user)
  const id = await sessionIdOf(leader)
  const other = await openTab(context, `${demoUrl}/`)
  return { leader, other, id, leaderPings, otherPings: countPings(other) }
}

/** Counts the pings a page sends. */
function countPings(page: Page): { count: number } {
  const pings = { count: 0 }
  page.on('request', (request) => {
    if (new URL(request.url()).pathname === '/session/ping') pings.count++
  })
  return pings
}

/**
 * Clicks "Stay" in `page` 4–5 s before the deadline, then waits until the old deadline has
 * passed (by the clock of this process, plus the 1 s the server rounds to) and returns the time
 * left then. Every wait is derived from the countdown the page showed.
 */
async function stayLate(page: Page): Promise<void> {
  const left = await countdownReaches(page, STAY_AT)
  const clicked = Date.now()
  await page.click('[data-sessionward="stay"]')
  await waitForState(page, 'active')
  const oldDeadline = clicked + (left + 1) * 1000
  await sleep(Math.max(0, oldDeadline - Date.now()) + 1000)
}

const STORE = process.env.DATABASE_URL ? 'PostgreSQL' : 'PGlite'

describe.skipIf(chromiumSkipReason !== null)(
  `e2e: stay, logout retries, back button in Chromium on ${STORE}${chromiumSkipReason ? ` (skipped: ${chromiumSkipReason})` : ''}`,
  () => {
    let browser: Awaited<ReturnType<typeof startBrowserAndDemo>>[0]
    let demo: RunningDemo

    beforeAll(async () => {
      ;[browser, demo] = await startBrowserAndDemo({
        warnAfter: WARN_AFTER,
        expireAfter: EXPIRE_AFTER,
        maxSessions: 0,
      })
      demoUrl = demo.url
    })

    afterAll(() => Promise.all([browser?.close(), demo?.close()]))

    it('1a. leader tab frozen (Page.setWebLifecycleState) during the warning: "Stay" in the other tab keeps the session', async ({
      expect,
    }) => {
      const freezable = await launchFreezableChromium()
      try {
        await freezable.context.setExtraHTTPHeaders({ 'x-e2e-device': 'stay-frozen' })
        // One window, two tabs: the new tab is in front, the leader really hidden behind it.
        const { leader, other, id } = await twoTabs(freezable.context, 'carol')
        await Promise.all([waitForState(leader, 'warning'), waitForState(other, 'warning')])

        const cdp = await freezable.context.newCDPSession(leader)
        await cdp.send('Page.setWebLifecycleState', { state: 'frozen' })
        await stayLate(other)

        // Past the old deadline: the session is live and the tab where the person acted is
        // signed in, without the leader's help.
        expect((await demo.row(id))?.endedAt).toBeNull()
        expect(await stateOf(other)).toBe('active')
        expect(await dialogOpen(other)).toBe(false)
        expect(new URL(other.url()).pathname).toBe('/')

        // The leader, resumed, learns the session was kept.
        await cdp.send('Page.setWebLifecycleState', { state: 'active' })
        await waitForState(leader, 'active')
        expect(logOf(leader).events).not.toContain('expire:idle')
        expect((await demo.row(id))?.endedAt).toBeNull()
      } finally {
        await freezable.close()
      }
    })

    it('1b. the leader\'s pings hang during the warning: "Stay" in the other tab keeps the session', async ({
      expect,
    }) => {
      const device = await newDevice(browser, 'stay-hang')
      const { leader, other, id, leaderPings, otherPings } = await twoTabs(device, 'dave')
      await Promise.all([waitForState(leader, 'warning'), waitForState(other, 'warning')])
      // The first tab leads: it asked the server for the warning, the other did not.
      expect(leaderPings.count).toBeGreaterThan(0)
      expect(otherPings.count).toBe(0)

      // From now on the leader's requests never get an answer (a stalled connection).
      const hung: Route[] = []
      await leader.route('**/session/ping', (route) => {
        hung.push(route)
      })
      await stayLate(other)

      expect((await demo.row(id))?.endedAt).toBeNull()
      expect(await stateOf(other)).toBe('active')
      expect(await stateOf(leader)).toBe('active')
      // The tab where the person chose to stay told the server itself (before the fix: never).
      expect(otherPings.count).toBeGreaterThanOrEqual(1)
      await leader.unroute('**/session/ping')
      await device.close()
    })

    it('11. a logout answered 503 is retried until the server ends the session; every tab is signed out meanwhile, none leaves before', async ({
      expect,
    }) => {
      const pair = await signOutPair(browser, 'stay-logout', 'erin', '/devices')
      const { device, page, other, id, stopBusy, visited } = pair
      // An outage: logout requests get 503 store_unavailable until the test ends it.
      let outage = true
      let attempts = 0
      await device.route('**/session/logout', async (route) => {
        attempts++
        if (!outage) return route.continue()
        return route.fulfill({
          status: 503,
          contentType: 'application/json',
          body: JSON.stringify({
            error: 'store_unavailable',
            message: 'Session store unavailable',
          }),
        })
      })

      await stopBusy()
      await page.click('[data-action="sign-out"]')
      // Every tab is signed out locally at once, while the server still refuses.
      await expect.poll(() => logOf(other).events, { timeout: LONG }).toContain('expire:logout')
      expect(await stateOf(page)).toBe('expired')
      // The refused logout is sent again (after 1 s, then 2 s, …); the session is still live,
      // and no tab has gone anywhere (a login page would send it back to the dashboard).
      await expect.poll(() => attempts, { timeout: LONG }).toBeGreaterThanOrEqual(3)
      expect((await demo.row(id))?.endedAt).toBeNull()
      expect(visited).toEqual([[], []])
      expect([await stateOf(page), await stateOf(other)]).toEqual(['expired', 'expired'])

      // The outage ends: the next retries get through and every tab leaves for the login page.
      outage = false
      expect(await Promise.all([waitForLogin(page), waitForLogin(other)])).toEqual([
        'logout',
        'logout',
      ])
      expect((await demo.row(id))?.endReason).toBe('logout')
      expect(visited).toEqual([['/login'], ['/login']])
      await device.close()
    })

    it('11. network down at sign-out: no tab goes back to the dashboard; the other tab retries when the first one closes; after recovery the session ends once and the tab is on /login', async ({
      expect,
    }) => {
      const pair = await signOutPair(browser, 'stay-offline', 'ivan', '/')
      const { device, page, other, id, stopBusy, visited } = pair
      const attempts = { page: 0, other: 0 }
      page.on('request', (r) => {
        if (r.url().endsWith('/session/logout')) attempts.page++
      })
      other.on('request', (r) => {
        if (r.url().endsWith('/session/logout')) attempts.other++
      })
      await stopBusy()
      // The network goes down (Network.emulateNetworkConditions, every tab): the sign-out
      // never reaches the server.
      await device.setOffline(true)
      await page.click('[data-action="sign-out"]')
      await expect.poll(() => logOf(other).events, { timeout: LONG }).toContain('expire:logout')
      // Both tabs retry: none of it arrives, and neither tab goes anywhere.
      await expect
        .poll(() => Math.min(attempts.page, attempts.other), { timeout: LONG })
        .toBeGreaterThanOrEqual(1)
      expect([await stateOf(page), await stateOf(other)]).toEqual(['expired', 'expired'])
      expect(visited).toEqual([[], []])
      expect(demo.logouts.filter((logout) => logout.device === 'stay-offline')).toEqual([])

      // The tab where the person signed out closes; the network comes back.
      await page.close()
      await device.setOffline(false)
      expect(await waitForLogin(other)).toBe('logout')
      expect(visited[1]).toEqual(['/login'])
      const rows = await demo.rows('ivan')
      expect(rows.map((row) => [row.id, row.endReason])).toEqual([[id, 'logout']])
      await device.close()
    })

    it('13. back button after a logout: a page restored from the back/forward cache shows nothing until the server answered', async ({
      expect,
    }) => {
      // Playwright's own launch turns the back/forward cache off; this Chromium keeps it on.
      const freezable = await launchFreezableChromium()
      try {
        const device = freezable.context
        await device.setExtraHTTPHeaders({ 'x-e2e-device': 'stay-back' })
        const page = await device.newPage()
        await cacheablePages(device, page)
        const seen = restores(page)
        const requests = traffic(page)
        const pings = requests.pings()
        await signIn(page, demo.url, 'frank')
        const id = await sessionIdOf(page)
        await requests.settled(pings)

        // Signed out here, then back: the dashboard comes back from the cache, hidden (it hid
        // itself before it left), and leaves again.
        await page.click('[data-action="sign-out"]')
        expect(await waitForLogin(page)).toBe('logout')
        seen.length = 0
        await page.goBack()
        // Restored from the cache as it was left (signed out and hidden), not sent afresh by the
        // server (which would prove nothing of the SDK), and left again.
        await expect
          .poll(() => seen, { timeout: LONG })
          .toContain('pageshow persisted expired hidden')
        expect(await waitForLogin(page)).toBe('logout')
        expect(seen.filter((line) => line.startsWith('shown'))).toEqual([])
        expect((await demo.row(id))?.endReason).toBe('logout')

        // Cached while signed in; meanwhile the session is revoked from another device, which
        // no message tells this page (Safari drops even this browser's own tabs' messages to
        // cached pages). Back: the restored page is hidden from its first frame, asks the
        // server, and leaves without ever showing.
        const second = await signInAndLeave(page, requests)
        seen.length = 0
        await demo.demo.ward.endSessions('frank', { reason: 'revoked' })
        await page.goBack()
        await expect
          .poll(() => seen, { timeout: LONG })
          .toContain('pageshow persisted active visible')
        expect(await waitForLogin(page)).toBe('revoked')
        expect(seen).toContain('first frame hidden')
        expect(seen.filter((line) => line.startsWith('shown'))).toEqual([])
        expect((await demo.row(second))?.endReason).toBe('revoked')

        // Still signed in: the restored page is hidden until the server's answer, then shows.
        const third = await signInAndLeave(page, requests)
        seen.length = 0
        // A page restored from the cache fires no `load`: waiting for it would outlast the session.
        await page.goBack({ waitUntil: 'commit' })
        await expect.poll(() => seen, { timeout: LONG }).toContain('shown after the answer')
        expect(seen).toContain('pageshow persisted active visible')
        expect(seen).toContain('first frame hidden')
        expect(seen).not.toContain('shown before the answer')
        expect(new URL(page.url()).pathname).toBe('/')
        expect(await stateOf(page)).toBe('active')
        expect((await demo.row(third))?.endedAt).toBeNull()
      } finally {
        await freezable.close()
      }
    })
  },
)

/**
 * The demo sends `Cache-Control: no-store`, which keeps Chromium from caching its pages for the
 * back button (Safari caches them anyway). Served without it here, so the back/forward cache
 * restores them and the SDK's `pageshow` handling is what keeps them from showing signed in.
 *
 * A stream is a request in flight, which no page can be cached with: the events route is blocked
 * inside the browser (`Network.setBlockedURLs`), so each try the ward makes fails at once in the
 * page and none is ever on its way when the scenario leaves (a route answered by this process
 * can take long on a loaded machine). Pings carry on instead.
 */
async function cacheablePages(device: BrowserContext, page: Page): Promise<void> {
  const cdp = await device.newCDPSession(page)
  await cdp.send('Network.enable')
  await cdp.send('Network.setBlockedURLs', { urls: ['*/session/events*'] })
  // Should Chromium still decline to cache a page, the log says why.
  await cdp.send('Page.enable')
  cdp.on('Page.backForwardCacheNotUsed', ({ notRestoredExplanations }) => {
    console.warn(
      '[e2e] 13: not restored from the back/forward cache:',
      notRestoredExplanations.map(({ reason }) => reason).join(', '),
    )
  })
  await device.route('**/*', async (route) => {
    // The sign-in sets the cookie: it goes to the browser as it is.
    if (route.request().method() === 'POST' && route.request().url().endsWith('/login')) {
      return route.continue()
    }
    const response = await route.fetch({ maxRedirects: 0 })
    const headers = { ...response.headers() }
    delete headers['cache-control']
    await route.fulfill({ response, headers })
  })
}

/**
 * Two tabs of `user`'s session on a new device: `page` (signed in, kept busy until `stopBusy()`
 * so no warning covers its "Sign out" however slow the machine is) and `other` on `otherPath`;
 * `visited` records where each goes from then on (see `pathsVisited`).
 */
async function signOutPair(browser: Browser, name: string, user: string, otherPath: string) {
  const device = await newDevice(browser, name)
  const page = await device.newPage()
  await signIn(page, demoUrl, user)
  const id = await sessionIdOf(page)
  const stopBusy = keepBusy(page)
  const other = await openTab(device, `${demoUrl}${otherPath}`)
  return { device, page, other, id, stopBusy, visited: pathsVisited(page, other) }
}

/**
 * The paths each page navigates to from now on (main frame only), e.g. `[[], ['/login']]`:
 * one list per page, in order.
 */
function pathsVisited(...pages: Page[]): string[][] {
  return pages.map((page) => {
    const paths: string[] = []
    page.on('framenavigated', (frame) => {
      if (frame === page.mainFrame()) paths.push(new URL(frame.url()).pathname)
    })
    return paths
  })
}

/**
 * Signs in again on `page`, opens the dashboard with a plain GET (the sign-in's POST answer is
 * not cached for the back button), then leaves for another site by the page's own navigation
 * (as a link would). Returns the new session's id.
 */
async function signInAndLeave(page: Page, requests: Traffic): Promise<string> {
  await signIn(page, demoUrl, 'frank')
  const id = await sessionIdOf(page)
  const pings = requests.pings()
  await page.goto(`${demoUrl}/`)
  await waitForState(page, 'active')
  await requests.settled(pings)
  await Promise.all([
    page.waitForURL('about:blank'),
    page.evaluate(() => window.location.assign('about:blank')),
  ])
  return id
}

/** A page's requests as {@link traffic} counts them. */
interface Traffic {
  /** Pings answered so far. */
  pings(): number
  /** Resolves once a ping after the `pings()` given was answered and nothing is in flight. */
  settled(pings: number): Promise<void>
}

/**
 * Counts what `page` has in flight. Chromium keeps no page in the back/forward cache that it
 * leaves with a request on its way (`OutstandingNetworkRequest*`), and on a loaded machine the
 * start-up ping can still be travelling when the scenario leaves: it leaves once it is answered.
 */
function traffic(page: Page): Traffic {
  const inFlight = new Set<Request>()
  let pings = 0
  page.on('request', (request) => inFlight.add(request))
  page.on('requestfailed', (request) => inFlight.delete(request))
  page.on('requestfinished', (request) => {
    inFlight.delete(request)
    if (new URL(request.url()).pathname === '/session/ping') pings++
  })
  return {
    pings: () => pings,
    settled: async (before) => {
      const quiet = async () => pings > before && inFlight.size === 0
      if (!(await until(quiet, Boolean))) throw new Error(`still busy after ${LONG} ms`)
    },
  }
}

/**
 * Records what a page restored from the back/forward cache shows: `pageshow persisted <state>
 * <visibility>` (or `loaded`; the root's visibility as the page comes back, before the SDK's
 * own `pageshow` listener), then `first frame hidden|visible` (the root's visibility in the first animation
 * frame after that `pageshow`, before anything is painted), then `shown after|before the
 * answer` when it becomes visible, by whether a ping started after the `pageshow` had been
 * answered by then (the page's own resource timing).
 */
function restores(page: Page): string[] {
  const seen: string[] = []
  page.on('console', (message) => {
    if (message.text().startsWith('[stay] ')) seen.push(message.text().slice('[stay] '.length))
  })
  void page.addInitScript(() => {
    // Read when used: the init script runs before the document has its root element.
    const visibility = () => getComputedStyle(document.documentElement).visibility
    addEventListener('pageshow', (event) => {
      const state = document.querySelector<HTMLElement>('[data-ward="state"]')?.dataset.state
      const how = event.persisted ? 'persisted' : 'loaded'
      console.debug(`[stay] pageshow ${how} ${state ?? '-'} ${visibility()}`)
      if (!event.persisted) return
      const restoredAt = performance.now()
      requestAnimationFrame(() => console.debug(`[stay] first frame ${visibility()}`))
      const observer = new MutationObserver(() => {
        if (visibility() !== 'visible') return
        observer.disconnect()
        const answered = performance
          .getEntriesByType('resource')
          .map((entry) => entry as PerformanceResourceTiming)
          .some(
            (entry) =>
              new URL(entry.name).pathname === '/session/ping' &&
              entry.startTime >= restoredAt &&
              entry.responseEnd > 0,
          )
        console.debug(`[stay] shown ${answered ? 'after' : 'before'} the answer`)
      })
      observer.observe(document.documentElement, { attributes: true, attributeFilter: ['style'] })
    })
  })
  return seen
}
