// New-device sign-ins and the screen lock (issue 23), in Chromium: two browser contexts are two
// devices of one user; the notice shows in both of the first device's open tabs (the one holding
// the events channel and the other), and ends the second's session from either; a
// locked screen (DevTools protocol) logs every tab out. Writes the README's screenshots of the
// notice and of the report link's confirmation page.
import { join } from 'node:path'
import type { NewDeviceEvent } from '@sessionward/server'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, it } from 'vitest'
import { chromiumSkipReason, logOf, newDevice } from './support/chromium.ts'
import { IMAGES, type RunningDemo, startBrowserAndDemo } from './support/demo.ts'
import { LONG, openTab, sessionIdOf, signIn, waitForLogin } from './support/pages.ts'

const STORE = process.env.DATABASE_URL ? 'PostgreSQL' : 'PGlite'

/** The second device's browser, as its user agent says. */
const FIREFOX = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:120.0) Gecko/20100101 Firefox/120.0'

/** The demo both scenarios start. */
const DEMO_OPTIONS = {
  // Long enough that no idle warning interferes with these scenarios.
  warnAfter: 600,
  expireAfter: 900,
  maxSessions: 5,
  // The report route's origin is not the served one (a random port): only its token is used.
  reportUrl: 'http://localhost/session/report',
}

/** The notice's parts, in the open shadow root of `<sessionward-notice>` (CSS selectors pierce it). */
const NOTICE = {
  message: '[data-sessionward="notice-message"]',
  end: '[data-sessionward="notice-end"]',
  ok: '[data-sessionward="notice-ok"]',
  close: '[data-sessionward="notice-close"]',
}

/** Grants the Idle Detection permission to one context (one device), as a user's click would. */
async function grantIdleDetection(browser: Browser, page: Page, origin: string): Promise<void> {
  const target = await page.context().newCDPSession(page)
  const { targetInfo } = await target.send('Target.getTargetInfo')
  const session = await browser.newBrowserCDPSession()
  await session.send('Browser.grantPermissions', {
    permissions: ['idleDetection'],
    origin,
    browserContextId: targetInfo.browserContextId,
  })
}

/** Locks the "screen" of one tab through the DevTools protocol. */
async function lockScreen(page: Page, locked: boolean): Promise<void> {
  const session = await page.context().newCDPSession(page)
  await session.send('Emulation.setIdleOverride', {
    isUserActive: !locked,
    isScreenUnlocked: !locked,
  })
}

describe.skipIf(chromiumSkipReason !== null)(
  `new-device sign-ins and the screen lock in Chromium on ${STORE}${chromiumSkipReason ? ` (skipped: ${chromiumSkipReason})` : ''}`,
  () => {
    let browser: Browser
    let demo: RunningDemo
    const alerts: NewDeviceEvent[] = []
    /** When the server told the app of each alert (ms), for the notice's latency figure. */
    const alertedAt = new Map<string, number>()
    const contexts: BrowserContext[] = []

    beforeAll(async () => {
      ;[browser, demo] = await startBrowserAndDemo({
        ...DEMO_OPTIONS,
        endOnScreenLock: true,
        onNewDevice: (event) => {
          alerts.push(event)
          alertedAt.set(event.session.id, Date.now())
        },
      })
    })

    afterAll(async () => {
      for (const context of contexts) await context.close().catch(() => {})
      await browser?.close()
      await demo?.close()
    })

    async function device(name: string): Promise<Page> {
      const context = await newDevice(browser, name)
      contexts.push(context)
      return context.newPage()
    }

    it('a sign-in on a second device shows the notice in both of the first one’s tabs; "Not you?" in the tab without the events channel ends it, the other tab’s notice closes, and its tab lands on the login page with the reason', async ({
      expect,
    }) => {
      const first = await device('laptop')
      await signIn(first, demo.url, 'erin')
      const other = await openTab(first.context(), `${demo.url}/devices`)
      // One of the two holds the events channel (the elected leader); the notice must reach both.
      const leads = (page: Page) =>
        page.evaluate(() =>
          (
            window as unknown as { SessionWard: { ward: { isLeader(): boolean } } }
          ).SessionWard.ward.isLeader(),
        )
      await expect
        .poll(async () => [await leads(first), await leads(other)].filter(Boolean).length, {
          timeout: LONG,
        })
        .toBe(1)
      const [leader, follower] = (await leads(first)) ? [first, other] : [other, first]
      // The user looks at the tab that does not hold the stream.
      await follower.bringToFront()
      const focusedBefore = await follower.evaluate(() => document.activeElement?.tagName)

      // When each tab hears of it (the browser's clock is this machine's): figures for the note,
      // printed, never asserted (the machine may be loaded).
      const heardAt = [leader, follower].map((page) =>
        page.evaluate(
          () =>
            new Promise<number>((resolve) =>
              addEventListener('sessionward:new-device', () => resolve(Date.now()), { once: true }),
            ),
        ),
      )
      const second = await device('stolen')
      await signIn(second, demo.url, 'erin')
      const stolenId = await sessionIdOf(second)
      expect(alerts.map((alert) => alert.session.id)).toContain(stolenId)

      // The notice in both tabs: heard on the leader's events channel, told to the other tab. A
      // polite live region, no focus taken.
      for (const page of [leader, follower]) {
        const message = page.locator(NOTICE.message)
        await expect.poll(() => message.textContent(), { timeout: LONG }).toMatch(/^New sign-in: /)
        expect(await message.textContent()).toMatch(/^New sign-in: .+, just now\.$/)
        expect(await message.getAttribute('role')).toBe('status')
      }
      const [leaderAt, followerAt] = await Promise.all(heardAt)
      const alerted = alertedAt.get(stolenId) ?? Number.NaN
      console.log(
        `new-device: the first device's tabs heard the sign-in ${Number(leaderAt) - alerted} ms (the leader) and ${Number(followerAt) - alerted} ms (the other tab) after it`,
      )
      expect(await follower.evaluate(() => document.activeElement?.tagName)).toBe(focusedBefore)
      // Non-modal: the page behind still takes clicks.
      expect(await follower.evaluate(() => document.querySelector('dialog[open]'))).toBeNull()
      // Keyboard reachable: Tab reaches its buttons.
      let reached = false
      for (let presses = 0; presses < 40 && !reached; presses++) {
        await follower.keyboard.press('Tab')
        reached = await follower.evaluate(
          () =>
            document.activeElement?.tagName === 'SESSIONWARD-NOTICE' &&
            document.activeElement.shadowRoot?.activeElement?.getAttribute('part') === 'end',
        )
      }
      expect(reached).toBe(true)
      await follower.screenshot({ path: join(IMAGES, 'new-device-notice.png') })

      // "Not you?" from the tab that does not hold the events channel: a request of its own.
      await follower.keyboard.press('Enter')
      expect(await waitForLogin(second)).toBe('reported')
      await expect(second.locator('[data-testid="login-reason"]').textContent()).resolves.toMatch(
        /reported as not yours/,
      )
      expect((await demo.row(stolenId))?.endReason).toBe('reported')
      await expect
        .poll(() => follower.locator(NOTICE.message).textContent(), { timeout: LONG })
        .toBe('That session has ended.')
      // Answered in one tab, the notice closes in the other.
      await expect.poll(() => leader.locator(NOTICE.message).count(), { timeout: LONG }).toBe(0)
      // The first device is still signed in, in both tabs.
      expect(first.url()).toBe(`${demo.url}/`)
      expect(other.url()).toBe(`${demo.url}/devices`)
      expect(logOf(first).cspViolations).toEqual([])
      expect(logOf(other).cspViolations).toEqual([])
    })

    it('the report link’s GET shows a confirmation page and changes nothing', async ({
      expect,
    }) => {
      const first = await device('desk')
      await signIn(first, demo.url, 'frank')
      const second = await device('phone')
      await signIn(second, demo.url, 'frank')
      const id = await sessionIdOf(second)
      const alert = alerts.find((candidate) => candidate.session.id === id)
      const token = new URL(alert?.reportUrl ?? 'http://x/').searchParams.get('token')
      expect(token).toMatch(/^swr_/)
      const page = await device('mail-client')
      await page.goto(`${demo.url}/session/report?token=${token}`)
      expect(await page.textContent('h1')).toBe('Was this you?')
      await page.screenshot({ path: join(IMAGES, 'report-confirmation.png') })
      expect((await demo.row(id))?.endedAt).toBeNull()
    })

    it('a locked screen logs every tab out with the reason screen_lock', async ({ expect }) => {
      const first = await device('office')
      await grantIdleDetection(browser, first, demo.url)
      const extras = first.waitForResponse((response) => response.url().endsWith('.extras.js'))
      await signIn(first, demo.url, 'grace')
      await extras
      const second = await openTab(first.context(), `${demo.url}/devices`)
      const id = await sessionIdOf(first)

      await lockScreen(first, true)
      expect(await waitForLogin(first)).toBe('screen_lock')
      expect(await waitForLogin(second)).toBe('screen_lock')
      await expect(first.locator('[data-testid="login-reason"]').textContent()).resolves.toMatch(
        /screen locked/,
      )
      // Ended on the server too (the one logout request).
      expect((await demo.row(id))?.endedAt).toBeInstanceOf(Date)
    })
  },
)

describe.skipIf(chromiumSkipReason !== null)(
  `a held new device approved from the notice in Chromium on ${STORE}${chromiumSkipReason ? ` (skipped: ${chromiumSkipReason})` : ''}`,
  () => {
    let browser: Browser
    let demo: RunningDemo

    beforeAll(async () => {
      ;[browser, demo] = await startBrowserAndDemo({
        ...DEMO_OPTIONS,
        holdNewDevices: true,
      })
    })

    afterAll(async () => {
      await browser?.close()
      await demo?.close()
    })

    it('a second device’s session is held until "Yes, it was me" in a tab of the first device; the notice closes in its other tab', async ({
      expect,
    }) => {
      const context = await newDevice(browser, 'home')
      const first = await context.newPage()
      await signIn(first, demo.url, 'ivan')
      const other = await openTab(context, `${demo.url}/devices`)
      // The second device signs in through the API (a held session gets no page of the app).
      const login = await fetch(`${demo.url}/api/login`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': FIREFOX,
        },
        body: JSON.stringify({ username: 'ivan', password: 'ivan' }),
      })
      const { token } = (await login.json()) as { token: string }
      const me = () =>
        fetch(`${demo.url}/api/me`, {
          headers: {
            authorization: `Bearer ${token}`,
            'user-agent': FIREFOX,
          },
        })
      const held = await me()
      expect(held.status).toBe(403)
      expect(await held.json()).toMatchObject({ error: 'session_held' })

      for (const page of [first, other]) {
        await expect
          .poll(() => page.locator(NOTICE.message).textContent(), { timeout: LONG })
          .toMatch(/^New sign-in: Firefox on Windows, just now\.$/)
      }
      // Approved from the second tab: its notice and its request are its own.
      await other.click(NOTICE.ok)
      await expect.poll(async () => (await me()).status, { timeout: LONG }).toBe(200)
      // The server may answer the approval before this tab has read its own answer: polled.
      for (const page of [other, first]) {
        await expect.poll(() => page.locator(NOTICE.message).count(), { timeout: LONG }).toBe(0)
      }
      await context.close()
    })
  },
)
