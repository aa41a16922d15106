// The identity provider's logout in a real browser (issue 22): the demo signs in through a real
// OpenID Provider (oidc-provider on a private port), the user signs out at the provider in
// another tab, the provider posts its logout token to the ward, and the demo's open tab lands on
// the login page saying why, pushed through /session/events (no ping).
import type { Browser } from 'playwright-core'
import { describe, it } from 'vitest'
import { REASONS } from '../demo/pages.ts'
import {
  CLIENT_ID,
  CLIENT_SECRET,
  type RealProvider,
  startOidcProvider,
} from '../packages/server/src/test-support/oidc-provider.ts'
import { chromiumSkipReason, launchChromium, logOf, newDevice } from './support/chromium.ts'
import { type RunningDemo, startDemo } from './support/demo.ts'
import { LONG, waitForState } from './support/pages.ts'

// Long thresholds: no warning is due and the heartbeat ping is a minute away, so only the
// pushed end can log the tab out in time.
const WARN_AFTER = 120
const EXPIRE_AFTER = 240
// Issue 22's bound from the provider's logout reaching the ward to the tab on the login page.
const PUSHED_WITHIN = 1_000
const STORE = process.env.DATABASE_URL ? 'PostgreSQL' : 'PGlite'

describe.skipIf(chromiumSkipReason !== null)(
  `identity provider in Chromium on ${STORE}${chromiumSkipReason ? ` (skipped: ${chromiumSkipReason})` : ''}`,
  () => {
    it('sign in through the provider; sign out there: the open tab is on /login?reason=idp_logout within 1 s, with no ping', async ({
      expect,
      onTestFinished,
    }) => {
      let demo: RunningDemo | undefined
      const provider: RealProvider = await startOidcProvider(async (issuer) => {
        demo = await startDemo({
          warnAfter: WARN_AFTER,
          expireAfter: EXPIRE_AFTER,
          maxSessions: 3,
          identityProvider: { issuer, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET },
        })
        return {
          redirectUri: `${demo.url}/login/idp/callback`,
          backchannelLogoutUri: `${demo.url}/session/backchannel-logout`,
        }
      })
      const browser: Browser = await launchChromium()
      onTestFinished(async () => {
        await browser.close()
        await demo?.close()
        await provider.close()
      })
      if (!demo) throw new Error('the demo did not start')
      const { url } = demo

      const device = await newDevice(browser, 'idp-user')
      const streams: number[] = []
      const pings: number[] = []
      device.on('response', (response) => {
        const path = new URL(response.url()).pathname
        if (path === '/session/events' && response.status() === 200) streams.push(Date.now())
      })
      device.on('request', (request) => {
        if (new URL(request.url()).pathname === '/session/ping') pings.push(Date.now())
      })
      const tab = await device.newPage()
      await tab.goto(`${url}/login`)
      // At the provider: its sign-in page, then its consent page.
      await Promise.all([
        tab.waitForURL((at) => at.href.startsWith(`${provider.issuer}/interaction/`)),
        tab.click('[data-testid="idp-sign-in"]'),
      ])
      await tab.fill('input[name="login"]', 'carol')
      await tab.fill('input[name="password"]', 'any')
      await Promise.all([
        tab.waitForURL((at) => at.href.startsWith(`${provider.issuer}/interaction/`)),
        tab.click('button[type="submit"]'),
      ])
      await Promise.all([tab.waitForURL(`${url}/`), tab.click('button[type="submit"]')])
      await waitForState(tab, 'active')
      await expect.poll(() => streams.length, { timeout: LONG }).toBeGreaterThan(0)

      // The user signs out at the provider, in another tab of the same browser.
      const providerTab = await device.newPage()
      await providerTab.goto(`${provider.issuer}/session/end`)
      const backchannel = provider.nextBackchannelLogout()
      const landed = tab
        .waitForURL(
          (at) => at.pathname === '/login' && at.searchParams.get('reason') === 'idp_logout',
          { timeout: LONG, waitUntil: 'domcontentloaded' },
        )
        .then(() => Date.now())
      const clickedAt = Date.now()
      await providerTab.click('button[name="logout"]')
      const sent = await backchannel
      expect(sent).toEqual({ sent: true, at: expect.any(Number) })
      const landedAt = await landed
      console.info(
        `identity provider (${STORE}): tab on /login?reason=idp_logout ${landedAt - sent.at} ms after the provider's logout token was taken`,
      )
      expect(landedAt - sent.at).toBeLessThanOrEqual(PUSHED_WITHIN)
      await expect(tab.locator('[data-testid="login-reason"]').textContent()).resolves.toContain(
        REASONS.idp_logout,
      )
      expect(logOf(tab).events.filter((event) => event.startsWith('expire'))).toEqual([
        'expire:idp_logout',
      ])
      // Pushed, not polled: the tab did not ask the server between the logout and its redirect.
      expect(pings.filter((at) => at >= clickedAt)).toEqual([])
      const [row] = await demo.rows('carol')
      expect(row?.endReason).toBe('idp_logout')
      await device.close()
    }, 120_000)
  },
)
