import { BroadcastChannel, createLeaderElection } from 'broadcast-channel'
import { afterEach, beforeAll, beforeEach, describe, expect, test, vi } from 'vitest'
import { REQUEST_TIMEOUT } from './machine.ts'
import { openChannel } from './native-channel.ts'
import { openChannel as openPackage } from './package-channel.ts'
import { channelApi, FOLLOWER_GRACE, joinTabs, readMessage, type TabMessage } from './tabs.ts'
import { installWebLocks, uniqueChannel } from './test-support/browser.ts'
import { fakeServer } from './test-support/server.ts'
import { openTabs, type Tab, wait } from './test-support/ward.ts'

declare module 'vitest' {
  interface TaskMeta {
    /** Read by bench/client.ts through the JSON reporter. */
    pings?: { oneTab: number; tenTabs: number; minutes: number }
  }
}

let opened: Tab[] = []

/** Starts tabs one after another, as a user opens them. */
async function start(tabs: Tab[]): Promise<void> {
  opened = tabs
  for (const tab of tabs) {
    tab.ward.start()
    await wait(0.1)
  }
}

const states = (): string[] => opened.map((tab) => tab.ward.getState())
const pingers = (): number => opened.filter((tab) => tab.pings > 0).length
const leader = (): Tab | undefined => opened.find((tab) => tab.pings > 0)

beforeAll(installWebLocks)
beforeEach(() => vi.useFakeTimers({ now: Date.UTC(2030, 0, 1, 9) }))
afterEach(async () => {
  for (const tab of opened) tab.ward.stop()
  await wait(1)
  vi.useRealTimers()
})

describe('three tabs on one channel', () => {
  test('exactly one tab pings, and closing it hands the job to another', async () => {
    const { server, tabs } = openTabs(3)
    await start(tabs)
    for (let second = 0; second < 60; second++) {
      tabs[second % 3]?.ward.activity()
      await wait(1)
    }
    expect(pingers()).toBe(1)
    const first = leader() as Tab
    const before = server.pings.length
    first.ward.stop()
    opened = tabs.filter((tab) => tab !== first)
    for (const tab of opened) tab.pings = 0
    for (let second = 0; second < 60; second++) {
      opened[second % 2]?.ward.activity()
      await wait(1)
    }
    expect(pingers()).toBe(1)
    expect(server.pings.length - before).toBe(8)
    expect(states()).toEqual(['active', 'active'])
  })

  test('activity in tab C keeps A and B from warning', async () => {
    const { tabs } = openTabs(3)
    await start(tabs)
    for (let second = 0; second < 90; second++) {
      if (second % 5 === 0) tabs[2]?.ward.activity()
      await wait(1)
    }
    expect(states()).toEqual(['active', 'active', 'active'])
    expect(tabs.map((tab) => tab.seen)).toEqual([[], [], []])
  })

  test('one warning in every tab at once; "stay" in B dismisses it in A and C', async () => {
    const { server, tabs } = openTabs(3)
    await start(tabs)
    await wait(20)
    expect(states()).toEqual(['warning', 'warning', 'warning'])
    const pings = server.pings.length
    tabs[1]?.ward.extend()
    await wait(0.1)
    expect(states()).toEqual(['active', 'active', 'active'])
    expect(tabs.map((tab) => tab.seen)).toEqual([
      ['warn 8', 'active'],
      ['warn 8', 'active'],
      ['warn 8', 'active'],
    ])
    // The server hears about "stay" once, from the leader.
    expect(server.pings.length).toBe(pings + 1)
    expect(server.pings.at(-1)).toBeLessThan(0.2)
  })

  test('expiry ends all three tabs with exactly one logout request', async () => {
    const { server, tabs } = openTabs(3)
    await start(tabs)
    await wait(33)
    expect(states()).toEqual(['expired', 'expired', 'expired'])
    expect(server.logouts).toBe(1)
    expect(tabs.map((tab) => tab.navigations)).toEqual([
      ['/login?reason=idle'],
      ['/login?reason=idle'],
      ['/login?reason=idle'],
    ])
    expect(tabs.map((tab) => tab.seen.at(-1))).toEqual([
      'expire idle',
      'expire idle',
      'expire idle',
    ])
  })

  test('a frozen leader: one follower pings in its place, once per deadline', async () => {
    // A tab that won the election and then froze: it holds leadership but does nothing.
    const name = uniqueChannel()
    const frozen = new BroadcastChannel(name, { type: 'simulate' })
    const elector = createLeaderElection(frozen)
    void elector.awaitLeadership()
    await wait(0.1)
    expect(elector.isLeader).toBe(true)
    const { server, tabs } = openTabs(2, { channelName: name })
    await start(tabs)
    await wait(FOLLOWER_GRACE / 1000 + 0.1)
    // The start ping: the server must learn the page is open.
    expect(server.pings.length).toBe(1)
    await wait(20)
    expect(states()).toEqual(['warning', 'warning'])
    expect(server.pings.length).toBe(2)
    await wait(10)
    expect(states()).toEqual(['expired', 'expired'])
    expect(server.pings.length).toBe(3)
    expect(server.logouts).toBe(1)
    void frozen.close()
  })
})

describe('"stay signed in" and sign-out reach the server (issue 13, items 1 and 11)', () => {
  test('"stay" in a follower reaches the server itself, even when the leader\'s pings hang', async () => {
    const { server, tabs } = openTabs(2)
    await start(tabs)
    await wait(20)
    expect(states()).toEqual(['warning', 'warning'])
    const lead = leader() as Tab
    const follower = tabs.find((tab) => tab !== lead) as Tab
    lead.hang = true
    // 5 s before the server's deadline (its last activity is the page load, 30 s ago at 30).
    await wait(5)
    follower.ward.extend()
    // Past the old deadline, and past the leader's request timeout: nobody was logged out.
    await wait(15)
    expect(states()).toEqual(['active', 'active'])
    expect(server.ended).toBeNull()
    expect(server.logouts).toBe(0)
    // The follower told the server itself, at once.
    expect(follower.pings).toBe(1)
    expect(server.pings).toContain(0)
  })

  test('a refused sign-out is retried until the server confirms it; every tab is logged out meanwhile, and none leaves before', async () => {
    const { server, tabs } = openTabs(2)
    await start(tabs)
    await wait(5)
    // An outage: the store answers 503, then the connection drops, then it is back.
    server.logoutFailures = [503, 'network', 503]
    tabs[0]?.ward.logout()
    await wait(0)
    expect(tabs[0]?.ward.getState()).toBe('expired')
    expect(server.logouts).toBe(1)
    await wait(1.5)
    // Every tab is logged out locally, and none goes to the login page, where an app may send
    // a still signed-in user back to its dashboard: the session is still live.
    expect(states()).toEqual(['expired', 'expired'])
    expect(tabs.map((tab) => tab.navigations)).toEqual([[], []])
    expect(server.ended).toBeNull()
    // Each tab retries after 1 s, 2 s, …: the two at 1 s are refused, the next ones get through.
    expect(server.logouts).toBe(3)
    await wait(2)
    expect(server.ended).toBe('logout')
    expect(tabs.map((tab) => tab.navigations)).toEqual([
      ['/login?reason=logout'],
      ['/login?reason=logout'],
    ])
    const sent = server.logouts
    await wait(120)
    expect(server.logouts).toBe(sent)
    expect(server.pings.length).toBe(1)
  })

  test('a sign-out that never reached the server is retried by the other tab when the first one closes', async () => {
    const { server, tabs } = openTabs(2)
    await start(tabs)
    await wait(5)
    const [first, other] = tabs as [Tab, Tab]
    // The network is down: the sign-out in the first tab never reaches the server.
    server.down = true
    first.ward.logout()
    await wait(1.5)
    expect(states()).toEqual(['expired', 'expired'])
    // The first tab closes (nothing it sends arrives any more); the network comes back.
    first.offline = true
    server.down = false
    await wait(60)
    expect(server.ended).toBe('logout')
    expect(other.navigations).toEqual(['/login?reason=logout'])
    expect(first.navigations).toEqual([])
  })

  test('a 401 confirms a sign-out (the session is known dead); a 404 is not retried', async () => {
    const { server, tabs } = openTabs(1)
    await start(tabs)
    server.logoutFailures = [401]
    tabs[0]?.ward.logout()
    await wait(0)
    expect(tabs[0]?.navigations).toEqual(['/login?reason=logout'])
    const again = openTabs(1, {}, fakeServer({ warnAfter: 20, expireAfter: 30 }))
    await start(again.tabs)
    again.server.logoutFailures = [404]
    again.tabs[0]?.ward.logout()
    await wait(120)
    expect(again.server.logouts).toBe(1)
    expect(again.tabs[0]?.navigations).toEqual(['/login?reason=logout'])
  })
})

test('ten tabs, 30 minutes of steady activity: no more pings than one tab + 1', async ({
  task,
}) => {
  const minutes = 30
  /** Activity every second, moving from tab to tab; the server's default 840/900 s apply. */
  async function simulate(count: number): Promise<number> {
    const { server, tabs } = openTabs(count, {}, fakeServer({ warnAfter: 840, expireAfter: 900 }))
    await start(tabs)
    for (let second = 0; second < minutes * 60; second++) {
      tabs[second % count]?.ward.activity()
      await wait(1)
    }
    expect(states()).toEqual(tabs.map(() => 'active'))
    for (const tab of tabs) tab.ward.stop()
    await wait(1)
    return server.pings.length
  }
  const oneTab = await simulate(1)
  const tenTabs = await simulate(10)
  task.meta.pings = { oneTab, tenTabs, minutes }
  expect(oneTab).toBe(1 + (minutes * 60) / 225)
  expect(tenTabs).toBeLessThanOrEqual(oneTab + 1)
})

describe('the channel', () => {
  test('messages from another version of the SDK are dropped, not trusted', () => {
    expect(readMessage({ from: 'x', type: 'activity', at: 5, extend: false })).not.toBeNull()
    // A new-device sign-in's data is read where it is shown (new-device.ts), not here.
    expect(readMessage({ from: 'x', type: 'new-device', data: 'anything' })).not.toBeNull()
    for (const data of [
      null,
      'hello',
      { type: 'hello' },
      { from: 'x', type: 'activity', at: '5', extend: false },
      { from: 'x', type: 'pinged', at: Number.NaN },
      { from: 'x', type: 'sync', shared: { status: 'sleeping' } },
      { from: 'x', type: 'reload' },
    ]) {
      expect(readMessage(data)).toBeNull()
    }
  })

  test('followers wait their turn; after close() nothing is sent or received', async () => {
    const name = uniqueChannel()
    const received: TabMessage[][] = [[], []]
    const join = (inbox: TabMessage[]) =>
      joinTabs({
        channelName: name,
        channelType: 'simulate',
        onMessage: (m) => inbox.push(m),
        onLeader() {},
      })
    const a = join(received[0] as TabMessage[])
    await wait(0.1)
    const b = join(received[1] as TabMessage[])
    await wait(0.1)
    expect([a.isLeader(), b.isLeader()]).toEqual([true, false])
    expect(a.delay()).toBe(0)
    expect([FOLLOWER_GRACE, 2 * FOLLOWER_GRACE]).toContain(b.delay())
    expect(received[0]).toEqual([{ type: 'hello' }])
    b.leave()
    b.post({ type: 'pinged', at: 1 })
    a.post({ type: 'pinged', at: 2 })
    await wait(0.1)
    expect(received[0]).toEqual([{ type: 'hello' }, { type: 'bye' }])
    expect(received[1]).toEqual([])
    a.leave()
  })
})

describe('issue 25 item 1: the broadcast-channel package only where the browser lacks its own', () => {
  test('BroadcastChannel and Web Locks (every current engine): the browser’s own, no import', async () => {
    expect(typeof globalThis.BroadcastChannel).toBe('function')
    expect(await channelApi({ channelType: null })).toBe(openChannel)
    expect(await channelApi({ channelType: 'native' })).toBe(openChannel)
  })

  test('another method asked for, or no Web Locks: the package, imported then', async () => {
    const loaded = channelApi({ channelType: 'simulate' })
    expect(loaded).toBeInstanceOf(Promise)
    expect(await loaded).toBe(openPackage)
    const locks = navigator.locks
    Object.defineProperty(navigator, 'locks', { value: null, configurable: true })
    try {
      expect(await channelApi({ channelType: null })).toBe(openPackage)
    } finally {
      Object.defineProperty(navigator, 'locks', { value: locks, configurable: true })
    }
  })
})

test('where the channel cannot be opened, a tab works alone as its own leader', async () => {
  // happy-dom has no IndexedDB, so forcing that method fails the way an old browser would.
  let told = false
  const tabs = joinTabs({
    channelName: uniqueChannel(),
    channelType: 'idb',
    onMessage() {},
    onLeader: () => {
      told = true
    },
  })
  // The package loads first (it is imported only where the browser's own channel cannot serve).
  expect(tabs.isLeader()).toBe(false)
  await vi.waitFor(() => expect(told).toBe(true))
  expect(tabs.isLeader()).toBe(true)
  expect(tabs.delay()).toBe(0)
  tabs.post({ type: 'hello' })
  tabs.leave()
})

describe('tabs that wake together past expireAfter (issue 13, item 4)', () => {
  test.each([2, 5])('%i tabs: exactly one logout request, every tab ends', async (count) => {
    const { server, tabs } = openTabs(count)
    await start(tabs)
    await wait(5)
    // The laptop sleeps an hour: no timer runs, then every tab wakes at the same moment.
    vi.setSystemTime(Date.now() + 3_600_000)
    window.dispatchEvent(new Event('focus'))
    await wait(5 + (FOLLOWER_GRACE / 1000) * (count + 1))
    expect(states()).toEqual(tabs.map(() => 'expired'))
    expect(server.logouts).toBe(1)
  })
})

describe('a leader that closes with its deadline ping unanswered (issue 13, item 2)', () => {
  test('the other tab asks the server itself once that ping has timed out', async () => {
    // A warning period longer than the ping's timeout and the followers' grace together.
    const server = fakeServer({ warnAfter: 20, expireAfter: 60 })
    let hang = false
    /** A request that never reaches the server; like a real fetch, aborting it rejects it. */
    const lost = (init: RequestInit | undefined): Promise<Response> =>
      new Promise((_resolve, reject) => {
        init?.signal?.addEventListener('abort', () => reject(init.signal?.reason))
      })
    const { tabs } = openTabs(
      2,
      {
        fetch: (url, init) =>
          hang && url === '/session/ping' ? lost(init) : server.fetch(url, init),
      },
      server,
    )
    await start(tabs)
    await wait(19)
    const answered = server.pings.length
    // The leader (the first tab) sends its warning ping into the void, then closes.
    hang = true
    await wait(1)
    const [first, second] = tabs as [Tab, Tab]
    first.ward.stop()
    opened = [second]
    hang = false
    await wait((REQUEST_TIMEOUT + 2 * FOLLOWER_GRACE) / 1000)
    expect(server.pings.length).toBe(answered + 1)
    expect(second.ward.getState()).toBe('warning')
  })
})
