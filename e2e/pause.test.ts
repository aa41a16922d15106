// Issue 15, item 2 in real Chromium tabs: with `data-media`, a video playing in one tab keeps
// both tabs of the browser signed in past expireAfter (the paused tab reports itself active,
// the leader's pings carry it to the server); once it stops, the idle clock runs from then and
// both tabs warn and expire as usual. The demo's pages get `data-media data-debug` on their
// script tag by route, so the demo itself stays as it is.
import type { BrowserContext, Page } from 'playwright-core'
import { beforeAll, describe, it } from 'vitest'
import { chromiumSkipReason, newDevice } from './support/chromium.ts'
import { type RunningDemo, startBrowserAndDemo } from './support/demo.ts'
import {
  LONG,
  openTab,
  sessionIdOf,
  signIn,
  stateOf,
  waitForLogin,
  waitForState,
} from './support/pages.ts'

// A paused tab reports every WARN_AFTER / 2 = 5 s: slack for timers late on a loaded machine.
const WARN_AFTER = 10
const EXPIRE_AFTER = 16
/** How long the video plays: twice expireAfter, so an unpaused session would have ended. */
const PLAYING = 2 * EXPIRE_AFTER * 1000

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Serves the signed-in pages with the script tag's `data-media` and `data-debug` turned on. */
async function withMediaOption(context: BrowserContext, baseUrl: string): Promise<void> {
  await context.route(
    (url) => url.origin === baseUrl && (url.pathname === '/' || url.pathname === '/devices'),
    async (route) => {
      const response = await route.fetch()
      const body = (await response.text()).replace(
        'data-ping-url=',
        'data-media data-debug data-ping-url=',
      )
      await route.fulfill({ response, body })
    },
  )
}

/**
 * Plays a muted video in the page: a canvas's capture stream as its source, a live stream that
 * never ends (no media file to serve, and the strict CSP does not apply to `srcObject`).
 */
function playVideo(page: Page): Promise<boolean> {
  return page.evaluate(async () => {
    const canvas = document.createElement('canvas')
    const video = document.createElement('video')
    video.muted = true
    video.srcObject = canvas.captureStream(5)
    document.body.append(canvas, video)
    // Something changes in every frame, so the stream really flows.
    const draw = canvas.getContext('2d') as CanvasRenderingContext2D
    setInterval(() => draw.fillRect(Math.random() * 200, 0, 10, 10), 200)
    await video.play()
    return !video.paused
  })
}

/** The page's `console.debug` lines from the SDK. */
function debugLines(page: Page): string[] {
  const lines: string[] = []
  page.on('console', (message) => {
    if (message.type() === 'debug' && message.text().startsWith('sessionward:')) {
      lines.push(message.text())
    }
  })
  return lines
}

let demo: RunningDemo
let browser: Awaited<ReturnType<typeof startBrowserAndDemo>>[0]

describe.skipIf(chromiumSkipReason !== null)(
  `pause by media${chromiumSkipReason ? ` (skipped: ${chromiumSkipReason})` : ''}`,
  () => {
    beforeAll(async () => {
      ;[browser, demo] = await startBrowserAndDemo({
        warnAfter: WARN_AFTER,
        expireAfter: EXPIRE_AFTER,
        maxSessions: 3,
      })
      return () => Promise.all([browser.close(), demo.close()]).then(() => undefined)
    })

    it('a video playing in one tab keeps two tabs signed in past expireAfter; stopped, both expire', async ({
      expect,
    }) => {
      const context = await newDevice(browser, 'media')
      await withMediaOption(context, demo.url)
      const first = await context.newPage()
      const firstLines = debugLines(first)
      await signIn(first, demo.url, 'dave')
      // The route does not see the page that the login's redirect loads: load it again.
      await first.goto(`${demo.url}/`)
      await waitForState(first, 'active')
      const second = await openTab(context, `${demo.url}/devices`)
      const id = await sessionIdOf(first)
      expect(await playVideo(second)).toBe(true)

      // Nobody touches either tab while the video plays: every second both are still active.
      const seen = new Set<string | null>()
      for (const end = Date.now() + PLAYING; Date.now() < end; await sleep(1000)) {
        seen.add(await stateOf(first))
        seen.add(await stateOf(second))
      }
      expect([...seen]).toEqual(['active'])
      expect((await demo.row(id))?.endReason).toBeNull()

      // The video stops: idle counts from now; both tabs warn, then end with reason idle.
      const stoppedAt = Date.now()
      await second.evaluate(() => document.querySelector('video')?.pause())
      await Promise.all(
        [first, second].map((page) => waitForState(page, 'warning', WARN_AFTER * 1000 + LONG)),
      )
      // Not before warnAfter from the stop (less a second: the server rounds idle down).
      expect(Date.now() - stoppedAt).toBeGreaterThanOrEqual((WARN_AFTER - 1) * 1000)
      const reasons = await Promise.all([first, second].map((page) => waitForLogin(page)))
      expect(reasons).toEqual(['idle', 'idle'])
      expect((await demo.row(id))?.endReason).toBe('idle')
      // The debug option logged the changes, each with its cause.
      // The line, then the event itself with its details.
      expect(firstLines[0]).toMatch(/^sessionward: stopped → active \(start\) \{type: start, /)
      const warned = firstLines.find((line) => line.startsWith('sessionward: active → warning'))
      // From its own ping answer (the leader) or from the other tab's message (a follower).
      expect(warned).toMatch(
        / \((answer: idle \d+ s, expires in \d+ s|sync)\) \{type: (answer|sync), /,
      )
      await context.close()
    })
  },
)
