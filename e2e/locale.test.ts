// The warning dialog in the page's language (issue 15, item 3): the demo's /language/ar-EG page
// says `<html lang="ar-EG" dir="rtl">`; the script-tag bundle fetches the Arabic texts from beside
// itself and the dialog shows them right to left, in Arabic-Indic digits, in Chromium.
import { join } from 'node:path'
import { describe, it } from 'vitest'
import ar from '../packages/client/src/locales/ar.ts'
import { chromiumSkipReason, logOf, newDevice } from './support/chromium.ts'
import { browserAndDemoFor, IMAGES } from './support/demo.ts'
import { axeDialog, LONG, signIn, waitForState } from './support/pages.ts'

// A 25 s warning: room for the layout and axe checks before the answer.
const WARN_AFTER = 5
const EXPIRE_AFTER = 30
const DEMO = { warnAfter: WARN_AFTER, expireAfter: EXPIRE_AFTER, maxSessions: 3 }

interface Box {
  x: number
  y: number
  width: number
  height: number
}

/** What the open dialog looks like, read through the host's open shadow root. */
interface Seen {
  lang: string | null
  dir: string | null
  direction: string
  title: string
  countdown: string
  dialog: Box
  stay: Box
  logout: Box
  viewport: { width: number; height: number }
}

describe.skipIf(chromiumSkipReason !== null)(
  `dialog in Arabic${chromiumSkipReason ? ` (skipped: ${chromiumSkipReason})` : ''}`,
  () => {
    it('a page with <html lang="ar-EG"> warns in Arabic, right to left, with Arabic-Indic digits', async ({
      expect,
      onTestFinished,
    }) => {
      const [browser, demo] = await browserAndDemoFor(onTestFinished, DEMO)
      const device = await newDevice(browser, 'locale')
      const page = await device.newPage()
      const fetched: string[] = []
      page.on('requestfinished', (request) => {
        const { pathname } = new URL(request.url())
        if (pathname.includes('.locale.')) fetched.push(pathname)
      })
      await signIn(page, demo.url, 'judy')
      await page.goto(`${demo.url}/language/ar-EG`)
      await waitForState(page, 'active')

      await waitForState(page, 'warning', (WARN_AFTER + LONG / 1000) * 1000)
      await page.waitForSelector('[data-sessionward="dialog"][open]')
      const seen: Seen = await page.evaluate(() => {
        const shadow = document.querySelector('sessionward-dialog')?.shadowRoot
        const part = (name: string) =>
          shadow?.querySelector(`[data-sessionward="${name}"]`) as HTMLElement
        const box = (name: string) => {
          const { x, y, width, height } = part(name).getBoundingClientRect()
          return { x, y, width, height }
        }
        return {
          lang: part('dialog').getAttribute('lang'),
          dir: part('dialog').getAttribute('dir'),
          direction: getComputedStyle(part('title')).direction,
          title: part('title').textContent ?? '',
          countdown: part('countdown').textContent ?? '',
          dialog: box('dialog'),
          stay: box('stay'),
          logout: box('logout'),
          viewport: { width: innerWidth, height: innerHeight },
        }
      })
      await page.screenshot({ path: join(IMAGES, 'dialog-arabic.png') })
      // Only the Arabic file, fetched from beside the bundle (the script tag carries no texts).
      expect(fetched).toEqual(['/assets/sessionward.iife.locale.ar.json'])
      expect(seen.lang).toBe('ar-EG')
      expect(seen.dir).toBe('rtl')
      expect(seen.direction).toBe('rtl')
      expect(seen.title).toBe(ar.texts.title)
      // m:ss in the digits Egypt writes (٠–٩), never Latin ones.
      expect(seen.countdown).toMatch(/^[٠-٩]:[٠-٩]{2}$/)
      // Right to left: the first button ("stay") is the rightmost, and the pair sits at the
      // dialog's left edge (flex-end), mirroring the English layout; the dialog stays centred.
      const { dialog, stay, logout, viewport } = seen
      expect(stay.x).toBeGreaterThan(logout.x + logout.width)
      expect(logout.x - dialog.x).toBeLessThan(dialog.x + dialog.width - (stay.x + stay.width) + 1)
      expect(Math.abs(dialog.x + dialog.width / 2 - viewport.width / 2)).toBeLessThanOrEqual(3)
      const axe = await axeDialog(page)
      expect(axe.violations).toEqual([])

      // The Arabic "stay" button answers like the English one.
      await page.click(`[data-sessionward="stay"]:text("${ar.texts.stay}")`)
      await waitForState(page, 'active')
      expect(logOf(page).cspViolations).toEqual([])
      expect(logOf(page).errors).toEqual([])
      await device.close()
    })
  },
)
