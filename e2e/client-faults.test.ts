// Sleep, freeze and offline faults of the client (issue 13, items 3 and 4), in real Chromium
// tabs of one window: hidden tabs are really hidden (no focus emulation, see
// launchFreezableChromium), frozen with `Page.setWebLifecycleState` and taken offline with
// `Network.emulateNetworkConditions`. Its own demo and browsers, one scenario at a time.
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { BrowserContext, CDPSession, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { COUNTDOWN_MARGIN } from '../packages/client/src/machine.ts'
import { FOLLOWER_GRACE } from '../packages/client/src/tabs.ts'
import { LOGOUT_WAIT } from '../packages/client/src/ward-core.ts'
import {
  chromiumSkipReason,
  type FreezableChromium,
  launchFreezableChromium,
  logOf,
} from './support/chromium.ts'
import { type RunningDemo, startDemo } from './support/demo.ts'
import { LONG, openTab, signIn, waitForLogin, waitForState } from './support/pages.ts'

// Long enough for five tabs to open one after another on a busy two-core machine.
const WARN_AFTER = 10
const EXPIRE_AFTER = 20

/** The SDK's expire event for a session that ended after inactivity. */
const EXPIRED_IDLE = 'expire:idle'

interface Device {
  chromium: FreezableChromium
  context: BrowserContext
  /** The first tab signed in; the others opened the dashboard after it. */
  tabs: Page[]
  cdp: CDPSession[]
  sessionId: string
  /** Requests to the events channel (`/session/events`) any tab made. */
  streams: { count: number }
}

/**
 * One browser (one window) with `count` tabs of `username`'s session, each with a CDP session.
 * `events: false` starts the SDK with the events channel off (`data-events-url="false"`).
 */
async function openDevice(
  demo: RunningDemo,
  name: string,
  count: number,
  { events = true } = {},
): Promise<Device> {
  const chromium = await launchFreezableChromium()
  const { context } = chromium
  await context.setExtraHTTPHeaders({ 'x-e2e-device': name })
  if (!events) await withoutEvents(context)
  const first = await context.newPage()
  await signIn(first, demo.url, name)
  // The sign-in's redirect to the dashboard is not routed: load it again through the route.
  if (!events) {
    await first.goto(`${demo.url}/`)
    await waitForState(first, 'active')
  }
  const streams = { count: 0 }
  context.on('request', (request) => {
    if (new URL(request.url()).pathname === '/session/events') streams.count++
  })
  const tabs = [first]
  for (let i = 1; i < count; i++) tabs.push(await openTab(context, `${demo.url}/`))
  const me = await first.evaluate(async () => (await fetch('/api/me')).json())
  const cdp = await Promise.all(tabs.map((tab) => context.newCDPSession(tab)))
  return { chromium, context, tabs, cdp, sessionId: me.session.id, streams }
}

/** The demo's pages start the SDK with `data-events-url="false"`: pings alone learn of ends. */
async function withoutEvents(context: BrowserContext): Promise<void> {
  await context.route(
    (url) => url.pathname === '/',
    async (route) => {
      const response = await route.fetch({ maxRedirects: 0 })
      const body = (await response.text()).replace(
        'data-ping-url=',
        'data-events-url="false" data-ping-url=',
      )
      await route.fulfill({ response, body })
    },
  )
}

const lifecycle = (device: Device, state: 'frozen' | 'active') =>
  Promise.all(device.cdp.map((cdp) => cdp.send('Page.setWebLifecycleState', { state })))

const offline = (device: Device) =>
  Promise.all(
    device.cdp.map((cdp) =>
      cdp.send('Network.emulateNetworkConditions', {
        offline: true,
        latency: 0,
        downloadThroughput: -1,
        uploadThroughput: -1,
      }),
    ),
  )

/** Frozen: no timer runs and nothing is asked; past expireAfter as the server counts it. */
async function sleepPastExpiry(device: Device, demo: RunningDemo): Promise<void> {
  await lifecycle(device, 'frozen')
  await sleep((EXPIRE_AFTER + 1) * 1000)
  // Nobody asked, so the server has not ended it either.
  if ((await demo.row(device.sessionId))?.endedAt !== null) throw new Error('ended while asleep')
}

/** The person comes back: the last tab is brought to the front and the mouse moves over it. */
async function moveMouse(tab: Page): Promise<void> {
  await tab.bringToFront()
  await tab.mouse.move(200, 200)
  await tab.mouse.move(260, 240)
}

describe.skipIf(chromiumSkipReason !== null)(
  `client faults in Chromium${chromiumSkipReason ? ` (skipped: ${chromiumSkipReason})` : ''}`,
  () => {
    let demo: RunningDemo

    beforeAll(async () => {
      // The demo serves the script-tag bundle from the client's dist.
      execFileSync(
        process.execPath,
        [join(import.meta.dirname, '../packages/client/scripts/build-if-needed.ts')],
        {
          stdio: 'ignore',
        },
      )
      demo = await startDemo({ warnAfter: WARN_AFTER, expireAfter: EXPIRE_AFTER, maxSessions: 3 })
    })

    afterAll(async () => {
      await demo?.close()
    })

    it('3. frozen past expireAfter, woken offline, the mouse moved: every tab ends at once, no warning first', async ({
      expect,
      onTestFinished,
    }) => {
      const device = await openDevice(demo, 'carol', 2)
      onTestFinished(() => device.chromium.close())
      await sleepPastExpiry(device, demo)
      await offline(device)
      await lifecycle(device, 'active')
      await moveMouse(device.tabs[1] as Page)

      for (const tab of device.tabs) {
        await expect.poll(() => logOf(tab).events, { timeout: LONG }).toContain(EXPIRED_IDLE)
        // Ended on waking, not after a fresh warning period the mouse move would have bought.
        expect(logOf(tab).events).toEqual([EXPIRED_IDLE])
      }
    })

    it('3. asleep past expireAfter without any lifecycle event (clock jump), offline, the mouse moved: every tab ends at once', async ({
      expect,
      onTestFinished,
    }) => {
      const chromium = await ownChromium('dave', onTestFinished)
      // The pages' clock runs on its own; a jump moves it without firing a timer, as a laptop
      // waking from sleep sees it (no freeze, no resume, no visibility change).
      await chromium.context.clock.install()
      const first = await chromium.context.newPage()
      await signIn(first, demo.url, 'dave')
      const tabs = [first, await openTab(chromium.context, `${demo.url}/`)]
      const cdp = await Promise.all(tabs.map((tab) => chromium.context.newCDPSession(tab)))
      await offline({
        chromium,
        context: chromium.context,
        tabs,
        cdp,
        sessionId: '',
        streams: { count: 0 },
      })
      const now = await first.evaluate(() => Date.now())
      await chromium.context.clock.setSystemTime(now + (EXPIRE_AFTER + 60) * 1000)
      await moveMouse(tabs[1] as Page)

      for (const tab of tabs) {
        await expect.poll(() => logOf(tab).events, { timeout: LONG }).toContain(EXPIRED_IDLE)
        expect(logOf(tab).events).toEqual([EXPIRED_IDLE])
      }
    })

    it('12. leader tab in the background: the warning shows in the visible tab at its deadline, asked by that tab', async ({
      expect,
      onTestFinished,
    }) => {
      const [leaderPings, visiblePings] = [{ count: 0 }, { count: 0 }]
      const { leader, visible } = await leaderBehind(demo, 'judy', onTestFinished, (page, tab) =>
        countPings(page, tab === 'A' ? leaderPings : visiblePings),
      )
      // One window: the leader's tab is really hidden behind the other (its timers run on whole
      // seconds), the other is the one the person sees.
      expect(await leader.evaluate(() => document.visibilityState)).toBe('hidden')
      expect(await visible.evaluate(() => document.visibilityState)).toBe('visible')

      const warned = await warningLateness(visible)
      console.info(
        `[e2e] 12: warning ${warned.late} ms after its deadline in the visible tab (ping ${warned.ping} ms)`,
      )
      // Asked by the visible tab itself, at the deadline: before the fix it waited its grace
      // for the hidden leader, which asked up to a whole second late (0 pings here).
      expect(visiblePings.count).toBe(1)
      // At most one extra ping: the hidden leader's own check may start one at the same moment.
      expect(leaderPings.count).toBeLessThanOrEqual(2)
      // Not later than its own ping's round trip plus half a follower's grace (1 s: a hidden
      // tab's timer alignment, the delay this fixes, is up to a whole second).
      expect(warned.late).toBeLessThanOrEqual(warned.ping + FOLLOWER_GRACE / 2)
      expect(await leader.evaluate(() => document.visibilityState)).toBe('hidden')
    })

    it('issue 25, item 6. leader tab in the background: at expiry one tab asks, the other hears its answer', async ({
      expect,
      onTestFinished,
    }) => {
      const start = Date.now()
      const pings: string[] = []
      const { leader, visible } = await leaderBehind(
        demo,
        'kim',
        onTestFinished,
        (page, tab) =>
          page.on('response', (response) => {
            if (new URL(response.url()).pathname !== '/session/ping') return
            pings.push(`${Math.round((Date.now() - start) / 1000)}s:${tab}:${response.status()}`)
          }),
        // Off: the leader's stream would hear of the end first, and no tab would ask at all.
        { events: false },
      )
      expect(await leader.evaluate(() => document.visibilityState)).toBe('hidden')
      // Nobody moves: both tabs warn, then expire, and both leave for the login page.
      expect(await waitForLogin(visible, (EXPIRE_AFTER + 10) * 1000)).toBe('idle')
      expect(await waitForLogin(leader)).toBe('idle')
      console.info(`[e2e] issue 25 item 6: pings ${pings.join(' ')}`)
      // One request at the expire deadline, the visible tab's: the hidden leader heard of it
      // and then of the end. Before: one per tab (12s:A:401 and 12s:B:401 in the issue).
      expect(pings.filter((ping) => ping.endsWith(':401'))).toHaveLength(1)
    })

    it.for([
      [2, 'erin'],
      [5, 'frank'],
    ] as const)(
      '4. %i tabs frozen past expireAfter wake together, events channel on: one logout request, or none when the channel pushed the end first',
      async ([count, name], { expect, onTestFinished }) => {
        const logouts = await wakeTogether(demo, name, count, true, onTestFinished)
        // The tab whose ping hears of the end sends the one request; none is sent when the
        // leader's events channel hears of it first (the session has ended on the server
        // already: docs/decisions.md, "An end the server pushes needs no logout request").
        expect([0, 1]).toContain(logouts)
      },
    )

    it.for([
      [2, 'grace'],
      [5, 'heidi'],
    ] as const)(
      '4. %i tabs frozen past expireAfter wake together, events channel off: exactly one logout request',
      async ([count, name], { expect, onTestFinished }) => {
        expect(await wakeTogether(demo, name, count, false, onTestFinished)).toBe(1)
      },
    )
  },
)

/** A Chromium of its own (one window) whose requests say they come from device `name`. */
async function ownChromium(
  name: string,
  onTestFinished: (fn: () => Promise<void>) => void,
): Promise<FreezableChromium> {
  const chromium = await launchFreezableChromium()
  onTestFinished(() => chromium.close())
  await chromium.context.setExtraHTTPHeaders({ 'x-e2e-device': name })
  return chromium
}

/**
 * One window, two tabs: `name` signs in in the first (A, the leader), then a second (B) opens
 * in front of it and starts, so A is really hidden (its timers run on whole seconds) and B is
 * the tab the person sees. `watch` sees each page before it starts its ward. `events: false`:
 * the SDK runs with the events channel off, so only pings learn of an end.
 */
async function leaderBehind(
  demo: RunningDemo,
  name: string,
  onTestFinished: (fn: () => Promise<void>) => void,
  watch: (page: Page, tab: 'A' | 'B') => void,
  { events = true } = {},
): Promise<{ leader: Page; visible: Page }> {
  const { context } = await ownChromium(name, onTestFinished)
  if (!events) await withoutEvents(context)
  const leader = await context.newPage()
  await signIn(leader, demo.url, name)
  // The sign-in's redirect to the dashboard is not routed: load it again through the route.
  if (!events) {
    await leader.goto(`${demo.url}/`)
    await waitForState(leader, 'active')
  }
  watch(leader, 'A')
  const visible = await context.newPage()
  watch(visible, 'B')
  await visible.goto(`${demo.url}/`)
  await visible.bringToFront()
  await waitForState(visible, 'active')
  return { leader, visible }
}

/** Counts the pings a page sends from now on, into `pings`. */
function countPings(page: Page, pings: { count: number }): void {
  page.on('request', (request) => {
    if (new URL(request.url()).pathname === '/session/ping') pings.count++
  })
}

/**
 * Waits for the warning in `page` and says how late it came: `late`, milliseconds from the warn
 * deadline to the `sessionward:warn` event, and `ping`, the round trip of the newest ping the
 * page sent (its resource timing). The deadline is read from the page's own countdown: it
 * ends COUNTDOWN_MARGIN before the session does, and the session ends EXPIRE_AFTER -
 * WARN_AFTER after the warn deadline; the moment `getRemaining()` drops a whole second after
 * the warning gives the end to a few milliseconds (a late poll only makes `late` smaller).
 */
async function warningLateness(page: Page): Promise<{ late: number; ping: number }> {
  return page.evaluate(
    ({ margin, warning }) =>
      new Promise<{ late: number; ping: number }>((resolve) => {
        addEventListener(
          'sessionward:warn',
          () => {
            const warnedAt = Date.now()
            const ward = (
              window as unknown as { SessionWard: { ward: { getRemaining(): number } } }
            ).SessionWard.ward
            const first = ward.getRemaining()
            const poll = (): void => {
              const now = Date.now()
              if (ward.getRemaining() === first) return void setTimeout(poll, 5)
              const end = now + margin + (first - 1) * 1000
              const pings = performance
                .getEntriesByType('resource')
                .map((entry) => entry as PerformanceResourceTiming)
                .filter((entry) => new URL(entry.name).pathname === '/session/ping')
              const last = pings.at(-1)
              resolve({
                late: warnedAt - (end - warning),
                ping: last ? Math.round(last.responseEnd - last.startTime) : 0,
              })
            }
            poll()
          },
          { once: true },
        )
      }),
    { margin: COUNTDOWN_MARGIN, warning: (EXPIRE_AFTER - WARN_AFTER) * 1000 },
  )
}

/**
 * `count` tabs of one window sleep past expireAfter and wake together; every tab lands on the
 * login page with the reason `idle` and the row ended `idle`. Returns the logout requests the
 * server received from this device.
 */
async function wakeTogether(
  demo: RunningDemo,
  name: string,
  count: number,
  events: boolean,
  onTestFinished: (fn: () => Promise<void>) => void,
): Promise<number> {
  const device = await openDevice(demo, name, count, { events })
  onTestFinished(() => device.chromium.close())
  await sleepPastExpiry(device, demo)
  await lifecycle(device, 'active')

  const reasons = await Promise.all(device.tabs.map((tab) => waitForLogin(tab)))
  expect(reasons).toEqual(device.tabs.map(() => 'idle'))
  // A tab navigates once its logout request is answered or LOGOUT_WAIT has passed: give a late
  // one that long again to arrive before counting.
  await sleep(LOGOUT_WAIT)
  expect((await demo.row(device.sessionId))?.endReason).toBe('idle')
  // The channel was on (the leader held a stream) or off (no tab asked for one).
  if (events) expect(device.streams.count).toBeGreaterThan(0)
  else expect(device.streams.count).toBe(0)
  const logouts = demo.logouts.filter((logout) => logout.device === name).length
  console.info(
    `[e2e] ${count} tabs woke together, events ${events ? 'on' : 'off'}: ${logouts} logout request(s)`,
  )
  return logouts
}
