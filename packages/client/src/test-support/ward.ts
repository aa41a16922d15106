import { vi } from 'vitest'
import type { SessionWardOptions } from '../options.ts'
import { createSessionWard, type SessionWard } from '../ward.ts'
import { uniqueChannel } from './browser.ts'
import { type FakeServer, fakeServer } from './server.ts'

/** Lets fake time pass, running timers and the promises they settle. */
export const wait = (seconds: number): Promise<unknown> =>
  vi.advanceTimersByTimeAsync(seconds * 1000)

/** A request that never answers; it fails when aborted, as a real fetch does. */
const hung = (init: RequestInit | undefined): Promise<Response> =>
  new Promise((_resolve, reject) => {
    init?.signal?.addEventListener('abort', () => reject(init.signal?.reason))
  })

export interface Tab {
  ward: SessionWard
  navigations: string[]
  /** Pings this tab sent. */
  pings: number
  /** true: this tab's pings hang until they time out (a stalled connection, a frozen page). */
  hang: boolean
  /** true: none of this tab's requests reaches the server (its network is down, it closed). */
  offline: boolean
  /** What the app saw through the callbacks, in order. */
  seen: string[]
}

/** Opens `count` tabs of one app on one channel, talking to one server. */
export function openTabs(
  count: number,
  options: Partial<SessionWardOptions> = {},
  server: FakeServer = fakeServer({ warnAfter: 20, expireAfter: 30 }),
): { server: FakeServer; tabs: Tab[] } {
  const channelName = uniqueChannel()
  const tabs = Array.from({ length: count }, () => {
    const tab: Tab = {
      ward: undefined as unknown as SessionWard,
      navigations: [],
      pings: 0,
      hang: false,
      offline: false,
      seen: [],
    }
    tab.ward = createSessionWard({
      pingUrl: '/session/ping',
      logoutUrl: '/session/logout',
      redirectTo: '/login?reason=idle',
      channelName,
      channelType: 'simulate',
      dialog: false,
      fetch: (url, init) => {
        if (url === '/session/ping') tab.pings++
        if (url === '/session/ping' && tab.hang) return hung(init)
        if (tab.offline) return Promise.reject(new TypeError('Failed to fetch'))
        return server.fetch(url, init)
      },
      navigate: (url) => tab.navigations.push(url),
      onWarn: ({ remaining }) => tab.seen.push(`warn ${remaining}`),
      onActive: () => tab.seen.push('active'),
      onExpire: ({ reason }) => tab.seen.push(`expire ${reason}`),
      ...options,
    })
    return tab
  })
  return { server, tabs }
}

/**
 * A headless ward's options against `server`, on a channel of its own: what the adapters'
 * tests give their provider or composable. Redirects are recorded in `navigations`.
 */
export function headlessOptions(server: FakeServer, navigations: string[]): SessionWardOptions {
  return {
    pingUrl: '/session/ping',
    logoutUrl: '/session/logout',
    redirectTo: '/login?reason=idle',
    channelName: uniqueChannel(),
    channelType: 'simulate',
    dialog: false,
    fetch: server.fetch,
    navigate: (url) => navigations.push(url),
  }
}
