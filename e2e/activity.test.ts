// What counts as activity, in Chromium (issue 13, items 5 and 7): while the warning is open no
// input but an answer dismisses it, in one window with real tabs switched; and events nobody
// performed (synthetic ones, a script's focus() and scrollTo()) never postpone it.
// Its own demo and browsers, like e2e/dialog.test.ts.
import type { Browser, Page } from 'playwright-core'
import { beforeAll, describe, it } from 'vitest'
import {
  chromiumSkipReason,
  launchFreezableChromium,
  logOf,
  newDevice,
} from './support/chromium.ts'
import { type RunningDemo, startBrowserAndDemo } from './support/demo.ts'
import { LONG, openTab, signIn, stateOf, type WardState } from './support/pages.ts'

// A long warning, so that every check below fits inside it on a loaded machine; nothing here
// waits for it to run out.
const WARN_AFTER = 5
const EXPIRE_AFTER = 125

const DEMO = { warnAfter: WARN_AFTER, expireAfter: EXPIRE_AFTER, maxSessions: 3 }

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Waits until the page's header shows `state`. Reads it with a query each time rather than
 * `waitForSelector`, so a hidden tab (no animation frames) is read as reliably as the front one.
 */
async function reach(page: Page, state: WardState, timeout = WARN_AFTER * 1000 + LONG) {
  const end = Date.now() + timeout
  while ((await stateOf(page)) !== state && Date.now() < end) await sleep(200)
  return stateOf(page)
}

/** The dialog's state in one page: open or not, and where focus is inside it. */
function dialogOf(page: Page) {
  return page.evaluate(() => {
    const host = document.querySelector('sessionward-dialog')
    const dialog = host?.shadowRoot?.querySelector<HTMLDialogElement>('dialog')
    const inside = host?.shadowRoot?.activeElement as HTMLElement | null | undefined
    return {
      open: dialog?.open ?? false,
      focusInDialog: document.activeElement === host && inside != null,
      focused: inside?.dataset.sessionward ?? null,
    }
  })
}

/**
 * Counts, in the page, the trusted input events that reach `window` (where the SDK listens), so
 * a test shows the input really happened.
 */
function countInput(page: Page) {
  return page.evaluate(() => {
    const counts: Record<string, number> = {}
    ;(window as unknown as { inputCounts: typeof counts }).inputCounts = counts
    for (const type of ['keydown', 'wheel', 'mousemove', 'focus']) {
      addEventListener(
        type,
        (event) => {
          if (event.isTrusted) counts[type] = (counts[type] ?? 0) + 1
        },
        true,
      )
    }
  })
}

const inputOf = (page: Page) =>
  page.evaluate(() => (window as unknown as { inputCounts: Record<string, number> }).inputCounts)

let browser: Browser
let demo: RunningDemo

describe.skipIf(chromiumSkipReason !== null)(
  `what counts as activity${chromiumSkipReason ? ` (skipped: ${chromiumSkipReason})` : ''}`,
  () => {
    // One Chromium and demo for the file; the returned function closes both after it.
    beforeAll(async () => {
      ;[browser, demo] = await startBrowserAndDemo(DEMO)
      return () => Promise.all([browser.close(), demo.close()]).then(() => undefined)
    })

    it('the open warning: Tab, the wheel, moves and switching tabs close it nowhere; Stay closes it everywhere', async ({
      expect,
    }) => {
      // One window whose background tabs are really hidden (no focus emulation).
      const freezable = await launchFreezableChromium()
      try {
        const { context } = freezable
        await context.setExtraHTTPHeaders({ 'x-e2e-device': 'tabs' })
        const first = await context.newPage()
        await signIn(first, demo.url, 'dave')
        const tabs = [first, await openTab(context, `${demo.url}/`)]
        tabs.push(await openTab(context, `${demo.url}/devices`))
        for (const tab of tabs) {
          // Something to scroll behind the modal, as on a long page.
          await tab.evaluate(() => {
            const spacer = document.createElement('div')
            spacer.style.height = '4000px'
            document.body.append(spacer)
          })
          await countInput(tab)
        }
        for (const tab of tabs) expect(await reach(tab, 'warning')).toBe('warning')

        for (const tab of tabs) {
          // Switching to the tab gives its window focus (and makes it visible).
          await tab.bringToFront()
          expect(await dialogOf(tab)).toEqual({ open: true, focusInDialog: true, focused: 'stay' })
          // Tab twice goes round the two buttons and stays in the dialog.
          await tab.keyboard.press('Tab')
          expect((await dialogOf(tab)).focused).toBe('logout')
          await tab.keyboard.press('Tab')
          expect(await dialogOf(tab)).toEqual({ open: true, focusInDialog: true, focused: 'stay' })
          await tab.keyboard.press('Shift+Tab')
          await tab.keyboard.press('Shift+Tab')
          expect(await dialogOf(tab)).toEqual({ open: true, focusInDialog: true, focused: 'stay' })
          // Moves and the wheel over the backdrop.
          await tab.mouse.move(40, 40)
          await tab.mouse.move(300, 300, { steps: 5 })
          await tab.mouse.wheel(0, 800)
          // The page saw it all (the wheel reaches it after Playwright returns): Tab, Tab, then
          // Shift and Tab twice; moves; the wheel.
          await expect
            .poll(() => inputOf(tab), { timeout: LONG })
            .toMatchObject({
              keydown: 6,
              mousemove: expect.any(Number),
              wheel: expect.any(Number),
            })
          // Every tab so far, this one included, still shows the warning.
          for (const other of tabs) {
            expect(await stateOf(other)).toBe('warning')
            expect((await dialogOf(other)).open).toBe(true)
          }
        }
        // The window got focus in each tab it was switched to.
        for (const tab of tabs) expect((await inputOf(tab)).focus).toBeGreaterThan(0)

        // Back to the first tab: its answer closes the warning in all of them.
        await first.bringToFront()
        await first.click('[data-sessionward="stay"]')
        for (const tab of tabs) {
          expect(await reach(tab, 'active')).toBe('active')
          expect((await dialogOf(tab)).open).toBe(false)
          // Never dismissed before: one warning, then Stay.
          expect(logOf(tab).events).toEqual(['warn', 'active'])
        }
      } finally {
        await freezable.close()
      }
    })

    it('events nobody performed — synthetic ones, focus(), scrollTo() — do not postpone the warning', async ({
      expect,
    }) => {
      // A device of its own (a browser context), signed in as Erin.
      const page = await (await newDevice(browser, 'synthetic')).newPage()
      await signIn(page, demo.url, 'erin')
      // The pointer rests over the page, where a scroll moves content under it.
      await page.mouse.move(300, 400)
      // An app that keeps moving focus, scrolling and dispatching input events of its own, from
      // now until the test stops it.
      await page.evaluate(() => {
        const spacer = document.createElement('div')
        spacer.style.height = '4000px'
        const inputs = [document.createElement('input'), document.createElement('input')]
        document.body.prepend(...inputs)
        document.body.append(spacer)
        const seen: Record<string, number> = { ticksWhileActive: 0, focus: 0, scroll: 0 }
        for (const type of ['focus', 'scroll']) {
          addEventListener(
            type,
            (event) => {
              if (event.isTrusted) seen[type] = (seen[type] ?? 0) + 1
            },
            true,
          )
        }
        let tick = 0
        const timer = setInterval(() => {
          tick++
          const state = document.querySelector('[data-ward="state"]')?.getAttribute('data-state')
          if (state === 'active') seen.ticksWhileActive = (seen.ticksWhileActive ?? 0) + 1
          inputs[tick % 2]?.focus()
          scrollTo(0, (tick % 2) * 600)
          for (const type of ['mousemove', 'pointerdown', 'keydown', 'wheel', 'touchstart']) {
            inputs[0]?.dispatchEvent(new Event(type, { bubbles: true }))
          }
        }, 200)
        Object.assign(window, { seen, stopApp: () => clearInterval(timer) })
      })

      // Every 200 ms would keep the session alive for ever if any of it counted.
      expect(await reach(page, 'warning')).toBe('warning')
      const seen = await page.evaluate(() => {
        const w = window as unknown as { seen: Record<string, number>; stopApp: () => void }
        w.stopApp()
        return w.seen
      })
      // The app did act while the user was idle, and the browser trusted its focus and scrolls.
      expect(seen.ticksWhileActive).toBeGreaterThan(0)
      expect(seen.focus).toBeGreaterThan(0)
      expect(seen.scroll).toBeGreaterThan(0)
      expect(logOf(page).events).toEqual(['warn'])

      await page.click('[data-sessionward="stay"]')
      expect(await reach(page, 'active')).toBe('active')
      expect(logOf(page).events).toEqual(['warn', 'active'])
      await page.context().close()
    })
  },
)
