// The demo's React page (issue 15, items 1 and 5): `useSessionWard()` of
// @sessionward/client/react in Chromium, against the real server. Its own demo and browser.
import type { Page } from 'playwright-core'
import { describe, it } from 'vitest'
import { reactBundle } from '../demo/react/bundle.ts'
import { chromiumSkipReason, logOf, newDevice } from './support/chromium.ts'
import { browserAndDemoFor } from './support/demo.ts'
import { LONG, sessionIdOf, signIn, waitForLogin } from './support/pages.ts'

// An 8 s countdown (it ends 2 s before the session): room to read it twice and press Stay.
const WARN_AFTER = 5
const EXPIRE_AFTER = 15

const STATE = '[data-testid="react-state"]'

/** Waits until the hook's state on the page is `state`. */
async function waitForHook(page: Page, state: string, timeout = LONG): Promise<void> {
  await page.waitForSelector(`${STATE}[data-state="${state}"]`, { state: 'attached', timeout })
}

const remainingOf = async (page: Page): Promise<number> =>
  Number(await page.textContent('[data-testid="react-remaining"]'))

describe.skipIf(chromiumSkipReason !== null)(
  `React page${chromiumSkipReason ? ` (skipped: ${chromiumSkipReason})` : ''}`,
  () => {
    it('the hook shows active, the warning counting down, Stay, a pause past expireAfter, and one logout', async ({
      expect,
      onTestFinished,
    }) => {
      const [browser, demo] = await browserAndDemoFor(onTestFinished, {
        warnAfter: WARN_AFTER,
        expireAfter: EXPIRE_AFTER,
        maxSessions: 1,
      })
      // Bundled before signing in, so the session's clock does not run during the build.
      const bundle = await reactBundle()
      expect(bundle).not.toHaveProperty('error')

      const device = await newDevice(browser, 'react')
      const page = await device.newPage()
      const pings: number[] = []
      page.on('response', (response) => {
        if (new URL(response.url()).pathname === '/session/ping') pings.push(response.status())
      })
      await signIn(page, demo.url, 'carol')
      const id = await sessionIdOf(page)
      await page.goto(`${demo.url}/react`)
      await waitForHook(page, 'active')
      // The provider runs the page's only ward: there is no script tag here.
      expect(await page.evaluate(() => 'SessionWard' in window)).toBe(false)

      // Left alone: the warning, and its seconds count down.
      await waitForHook(page, 'warning', (WARN_AFTER + LONG / 1000) * 1000)
      const first = await remainingOf(page)
      expect(first).toBeGreaterThan(0)
      expect(first).toBeLessThanOrEqual(EXPIRE_AFTER - WARN_AFTER)
      await expect
        .poll(() => remainingOf(page), { timeout: LONG, interval: 100 })
        .toBeLessThan(first)

      // Stay: back to active, and the server heard it.
      const answered = pings.length
      await page.click('[data-testid="react-stay"]')
      await waitForHook(page, 'active')
      await expect.poll(() => pings.slice(answered), { timeout: LONG }).toContain(200)
      expect(logOf(page).events).toEqual(['warn', 'active'])

      // Paused past expireAfter (and a warnAfter more): no warning, no expiry, the server's
      // session is still live (a passive poll answers 200 and does not count as activity).
      await page.click('[data-testid="react-pause"]')
      await page.waitForSelector('[data-testid="react-paused"][data-paused="true"]')
      const pausedAt = Date.now()
      await page.waitForTimeout(pausedAt + (EXPIRE_AFTER + WARN_AFTER) * 1000 - Date.now())
      expect(await page.getAttribute(STATE, 'data-state')).toBe('active')
      expect(logOf(page).events).toEqual(['warn', 'active'])
      expect(await page.evaluate(async () => (await fetch('/api/poll')).status)).toBe(200)
      expect((await demo.row(id))?.endedAt).toBeNull()
      await page.click('[data-testid="react-pause"]')
      await page.waitForSelector('[data-testid="react-paused"][data-paused="false"]')
      expect(await page.getAttribute(STATE, 'data-state')).toBe('active')

      // Sign out: one logout request, and the login page says why.
      await page.click('[data-testid="react-sign-out"]')
      expect(await waitForLogin(page)).toBe('logout')
      expect(demo.logouts.filter((logout) => logout.device === 'react')).toHaveLength(1)
      expect((await demo.row(id))?.endReason).toBe('logout')
      expect(logOf(page).events).toEqual(['warn', 'active', 'expire:logout'])
      expect(logOf(page).cspViolations).toEqual([])
      expect(logOf(page).errors).toEqual([])
      await device.close()
    })
  },
)
