// The warning dialog under a host page's CSS and for screen readers (issue 13, items 8 and 9):
// the demo's /tailwind page (Tailwind v4's preflight plus an app's own rules) in Chromium.
// Its own demo and browser, so it runs beside e2e/scenarios.test.ts without sharing accounts.
import { join } from 'node:path'
import { describe, it } from 'vitest'
import { chromiumSkipReason, logOf, newDevice } from './support/chromium.ts'
import { browserAndDemoFor, IMAGES } from './support/demo.ts'
import { axeDialog, dialogOpen, LONG, signIn, waitForState } from './support/pages.ts'

// A 40 s warning: long enough to cross the 30 s and 10 s announcements with room to spare.
const WARN_AFTER = 5
const EXPIRE_AFTER = 45

/** What the dialog looks like to the test, read through the host's open shadow root. */
interface Seen {
  box: { x: number; y: number; width: number; height: number }
  viewport: { width: number; height: number }
  title: { color: string; letterSpacing: string; textTransform: string; textAlign: string }
  pageHeading: string
}

describe.skipIf(chromiumSkipReason !== null)(
  `dialog under Tailwind v4's preflight${chromiumSkipReason ? ` (skipped: ${chromiumSkipReason})` : ''}`,
  () => {
    it('centred, its own colours, no axe violation, and announced at most 5 times a minute', async ({
      expect,
      onTestFinished,
    }) => {
      const [browser, demo] = await browserAndDemoFor(onTestFinished, {
        warnAfter: WARN_AFTER,
        expireAfter: EXPIRE_AFTER,
        maxSessions: 3,
      })
      const device = await newDevice(browser, 'dialog')
      const page = await device.newPage()
      await signIn(page, demo.url, 'carol')
      await page.goto(`${demo.url}/tailwind`)
      await waitForState(page, 'active')
      // The preflight really is applied to the page.
      await expect(page.evaluate(() => getComputedStyle(document.body).margin)).resolves.toBe('0px')

      await waitForState(page, 'warning', (WARN_AFTER + LONG / 1000) * 1000)
      await page.waitForSelector('[data-sessionward="dialog"][open]')
      expect(await dialogOpen(page)).toBe(true)
      // Count from the moment it opens: text put into the live region, and countdown redraws.
      await page.evaluate(() => {
        const shadow = document.querySelector('sessionward-dialog')?.shadowRoot
        const counts = { announced: [] as string[], redrawn: 0 }
        ;(window as unknown as { counts: typeof counts }).counts = counts
        const status = shadow?.querySelector('[data-sessionward="status"]') as Element
        new MutationObserver((records) => {
          for (const record of records) {
            if (record.addedNodes.length > 0) counts.announced.push(status.textContent ?? '')
          }
        }).observe(status, { childList: true, characterData: true, subtree: true })
        new MutationObserver(() => {
          counts.redrawn++
        }).observe(shadow?.querySelector('[data-sessionward="countdown"]') as Element, {
          childList: true,
          characterData: true,
          subtree: true,
        })
      })

      const seen: Seen = await page.evaluate(() => {
        const shadow = document.querySelector('sessionward-dialog')?.shadowRoot
        const dialog = shadow?.querySelector('[data-sessionward="dialog"]') as Element
        const { x, y, width, height } = dialog.getBoundingClientRect()
        const title = getComputedStyle(
          shadow?.querySelector('[data-sessionward="title"]') as Element,
        )
        const heading = document.querySelector('[data-testid="page-heading"]') as Element
        return {
          box: { x, y, width, height },
          viewport: { width: innerWidth, height: innerHeight },
          title: {
            color: title.color,
            letterSpacing: title.letterSpacing,
            textTransform: title.textTransform,
            textAlign: title.textAlign,
          },
          pageHeading: getComputedStyle(heading).color,
        }
      })
      await page.screenshot({ path: join(IMAGES, 'dialog-tailwind.png') })
      // Centred: the preflight's `* { margin: 0 }` no longer reaches the dialog's `margin: auto`.
      const { box, viewport } = seen
      expect(Math.abs(box.x + box.width / 2 - viewport.width / 2)).toBeLessThanOrEqual(3)
      expect(Math.abs(box.y + box.height / 2 - viewport.height / 2)).toBeLessThanOrEqual(3)
      expect(box.x).toBeGreaterThan(100)
      // Its own colours: the page's grey h2 and its body text styles stop at the shadow root.
      expect(seen.pageHeading).toBe('rgb(107, 114, 128)')
      expect(seen.title).toEqual({
        color: 'rgb(27, 27, 31)',
        letterSpacing: 'normal',
        textTransform: 'none',
        textAlign: 'start',
      })

      const axe = await axeDialog(page)
      expect(axe.violations).toEqual([])
      expect(axe.shadowChecks).toBeGreaterThan(0)

      // Let the countdown run past the 10 s announcement (bounded by the warning period).
      const countdown = page.locator('[data-sessionward="countdown"]')
      await expect
        .poll(() => countdown.textContent(), {
          timeout: (EXPIRE_AFTER - WARN_AFTER) * 1000 + LONG,
          interval: 500,
        })
        .toMatch(/^0:0\d$/)
      const counts = await page.evaluate(
        () => (window as unknown as { counts: { announced: string[]; redrawn: number } }).counts,
      )
      // A 40 s countdown crosses two announcements (30 s, 10 s): at most 5 a minute, and never
      // the per-second redraws the visible countdown gets.
      expect(counts.announced.length).toBeGreaterThanOrEqual(1)
      expect(counts.announced.length).toBeLessThanOrEqual(2)
      for (const text of counts.announced) {
        expect(text).toMatch(/^For your security, you will be signed out in \d+ seconds\.$/)
      }
      expect(counts.redrawn).toBeGreaterThan(counts.announced.length)
      // The shadow root's constructable stylesheet needs no 'unsafe-inline'.
      expect(logOf(page).cspViolations).toEqual([])
      await device.close()
    })
  },
)
