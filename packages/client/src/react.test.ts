import { act, cleanup, fireEvent, render, screen } from '@testing-library/react'
import { createElement as h, StrictMode } from 'react'
import { afterEach, beforeAll, beforeEach, describe, expect, test, vi } from 'vitest'
import { createSessionWard, type SessionWardOptions } from './index.ts'
import { SessionWardProvider, useNewDevice, useSessionWard } from './react.ts'
import { installWebLocks } from './test-support/browser.ts'
import { type FakeServer, fakeServer } from './test-support/server.ts'
import { headlessOptions, wait } from './test-support/ward.ts'

const T0 = Date.UTC(2030, 0, 1, 9)

let server: FakeServer
let navigations: string[]
/** Every state change a ward announced, as `previous→state`. */
let changes: string[]
const record = (event: WindowEventMap['sessionward:state']): void => {
  changes.push(`${event.detail.previous}→${event.detail.state}`)
}

/** A headless ward against the fake server (warning at 20 s, expiry at 30 s). */
const options = (): SessionWardOptions => headlessOptions(server, navigations)

const pings = (): number => server.requests.filter((r) => r.url.endsWith('/ping')).length

/** What a page shows with the hook: the state, the seconds, Stay, Sign out and a pause toggle. */
function Status() {
  const ward = useSessionWard()
  return h(
    'div',
    null,
    h('output', { 'data-testid': 'state' }, ward.state),
    h('span', { 'data-testid': 'remaining' }, String(ward.remaining)),
    h('button', { type: 'button', onClick: ward.extend }, 'Stay'),
    h('button', { type: 'button', onClick: ward.logout }, 'Sign out'),
    h(
      'button',
      { type: 'button', onClick: ward.paused ? ward.resume : ward.pause },
      ward.paused ? 'Resume' : 'Pause',
    ),
  )
}

const shown = (testId: string): string | null => screen.getByTestId(testId).textContent
/** Lets fake time pass inside React's act, so the renders it causes are flushed. */
const pass = (seconds: number): Promise<unknown> => act(() => wait(seconds))

beforeAll(installWebLocks)
beforeEach(() => {
  vi.useFakeTimers({ now: T0 })
  server = fakeServer({ warnAfter: 20, expireAfter: 30 })
  navigations = []
  changes = []
  window.addEventListener('sessionward:state', record)
})
afterEach(async () => {
  cleanup()
  await wait(1)
  window.removeEventListener('sessionward:state', record)
  vi.useRealTimers()
})

describe('SessionWardProvider and useSessionWard', () => {
  test('shows active, then the warning with its seconds counting down; Stay pings and returns to active', async () => {
    render(h(SessionWardProvider, { options: options() }, h(Status)))
    await pass(0)
    expect(shown('state')).toBe('active')
    expect(shown('remaining')).toBe('0')

    await pass(20)
    expect(shown('state')).toBe('warning')
    // The countdown ends 2 s before the session: 30 − 20 − 2.
    expect(shown('remaining')).toBe('8')
    await pass(1)
    expect(shown('remaining')).toBe('7')
    await pass(1)
    expect(shown('remaining')).toBe('6')

    const before = pings()
    fireEvent.click(screen.getByText('Stay'))
    await pass(0)
    expect(shown('state')).toBe('active')
    expect(shown('remaining')).toBe('0')
    expect(pings()).toBe(before + 1)
    expect(server.pings.at(-1)).toBe(0)
  })

  test('StrictMode mounts twice: one ward starts, one logout request is sent, one redirect', async () => {
    render(h(StrictMode, null, h(SessionWardProvider, { options: options() }, h(Status))))
    await pass(0)
    expect(shown('state')).toBe('active')
    // Started once and never stopped in between (a second start would say stopped→active again).
    expect(changes).toEqual(['stopped→active'])

    await pass(20)
    expect(shown('state')).toBe('warning')
    // What one ward sends: a heartbeat as it starts, the check before warning, one stream.
    expect(server.pings).toEqual([0, 20])
    expect(server.connects).toBe(1)

    fireEvent.click(screen.getByText('Sign out'))
    await pass(3)
    expect(shown('state')).toBe('expired')
    expect(server.logouts).toBe(1)
    expect(navigations).toEqual(['/login?reason=logout'])
    expect(changes).toEqual(['stopped→active', 'active→warning', 'warning→expired'])
  })

  test('StrictMode unmount stops the ward, a remount starts one again; never two at once', async () => {
    const ward = createSessionWard(options())
    const tree = () => h(StrictMode, null, h(SessionWardProvider, { ward }, h(Status)))
    const first = render(tree())
    await pass(0)
    expect(ward.getState()).toBe('active')
    first.unmount()
    await pass(0)
    expect(ward.getState()).toBe('stopped')

    render(tree())
    await pass(0)
    expect(shown('state')).toBe('active')
    expect(changes).toEqual(['stopped→active', 'active→stopped', 'stopped→active'])
    await pass(20)
    expect(server.pings.map(Math.round)).toEqual([0, 0, 20])
    expect(server.logouts).toBe(0)
  })

  test('a ward the app started itself keeps running after the provider unmounts', async () => {
    const ward = createSessionWard(options())
    ward.start()
    const view = render(h(SessionWardProvider, { ward }, h(Status)))
    await pass(0)
    expect(shown('state')).toBe('active')
    view.unmount()
    await pass(1)
    expect(ward.getState()).toBe('active')
    ward.stop()
  })

  test('pause holds the session open past expireAfter; resume lets idle time count again', async () => {
    render(h(SessionWardProvider, { options: options() }, h(Status)))
    await pass(0)
    fireEvent.click(screen.getByText('Pause'))
    await pass(0)
    expect(screen.getByText('Resume')).toBeTruthy()

    await pass(45)
    expect(shown('state')).toBe('active')
    expect(server.ended).toBeNull()
    expect(navigations).toEqual([])

    fireEvent.click(screen.getByText('Resume'))
    await pass(20)
    expect(shown('state')).toBe('warning')
    expect(screen.getByText('Pause')).toBeTruthy()
  })

  test('a hold the hook did not make (a pending request) shows as paused at once, and its end too', async () => {
    const ward = createSessionWard(options())
    render(h(SessionWardProvider, { ward }, h(Status)))
    await pass(0)
    let finish = (): void => {}
    const upload = ward.whilePending(
      new Promise<void>((resolve) => {
        finish = resolve
      }),
    )
    await pass(0)
    expect(screen.getByText('Resume')).toBeTruthy()
    finish()
    await act(() => upload)
    expect(screen.getByText('Pause')).toBeTruthy()
    expect(shown('state')).toBe('active')
  })

  test('isLeader and the ward itself come with the actions, the same functions on every render', async () => {
    const seen: Array<ReturnType<typeof useSessionWard>> = []
    function Probe() {
      seen.push(useSessionWard())
      return null
    }
    render(h(SessionWardProvider, { options: options() }, h(Probe)))
    await pass(21)
    const [first, last] = [seen[0], seen.at(-1)]
    expect(seen.length).toBeGreaterThan(1)
    expect(last?.extend).toBe(first?.extend)
    expect(last?.logout).toBe(first?.logout)
    expect(last?.ward.getState()).toBe('warning')
    // The only tab on its channel leads.
    expect(last?.isLeader()).toBe(true)
  })

  test('useSessionWard outside a provider, and a provider with neither options nor ward, say so', () => {
    vi.spyOn(console, 'error').mockImplementation(() => {})
    expect(() => render(h(Status))).toThrow(
      'useSessionWard() must be called inside <SessionWardProvider>',
    )
    const props = {} as Parameters<typeof SessionWardProvider>[0]
    expect(() => render(h(SessionWardProvider, props))).toThrow(
      'options must be an object with at least pingUrl',
    )
    vi.mocked(console.error).mockRestore()
  })
})

/** An app's own new-device notice, drawn from useNewDevice(). */
function OwnNotice() {
  const { notice, dismiss } = useNewDevice()
  if (notice === null) return h('p', { 'data-testid': 'notice' }, 'none')
  return h(
    'p',
    { 'data-testid': 'notice', role: 'status' },
    `New sign-in: ${notice.browser} on ${notice.os}`,
    h('button', { type: 'button', onClick: dismiss }, 'Dismiss'),
  )
}

/** A `sessionward:new-device` event as a ward dispatches it. */
const newDeviceEvent = () =>
  new CustomEvent('sessionward:new-device', {
    detail: {
      sessionId: 's2',
      browser: 'Firefox',
      os: 'Windows',
      signedInAt: new Date(T0),
      held: false,
      end: async () => true,
      approve: async () => true,
    },
  })

describe('useNewDevice', () => {
  test('shows the latest new-device sign-in heard, until dismissed; needs no provider', async () => {
    render(h(OwnNotice))
    expect(shown('notice')).toBe('none')
    await act(async () => {
      window.dispatchEvent(newDeviceEvent())
    })
    expect(shown('notice')).toBe('New sign-in: Firefox on WindowsDismiss')
    fireEvent.click(screen.getByText('Dismiss'))
    await pass(0)
    expect(shown('notice')).toBe('none')
  })
})
