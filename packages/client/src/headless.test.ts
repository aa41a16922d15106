import { cleanup, render, screen } from '@testing-library/react'
import { createElement as h } from 'react'
import { afterEach, beforeAll, beforeEach, describe, expect, test, vi } from 'vitest'
import { HOST } from './dialog.ts'
import { createSessionWard } from './headless.ts'
import * as full from './index.ts'
import { SessionWardProvider, useSessionWard } from './react.ts'
import { installWebLocks, trusted, uniqueChannel } from './test-support/browser.ts'
import { type FakeServer, fakeServer } from './test-support/server.ts'
import { wait } from './test-support/ward.ts'
import type { SessionWard } from './ward.ts'

let server: FakeServer
let ward: SessionWard
let seen: string[]
const record = (event: Event): void => void seen.push(event.type)

/** A headless ward on the fake server (warning at 20 s, expiry at 30 s), default options. */
const headless = (): SessionWard =>
  createSessionWard({
    pingUrl: '/session/ping',
    logoutUrl: '/session/logout',
    redirectTo: '/login?reason=idle',
    channelName: uniqueChannel(),
    channelType: 'simulate',
    fetch: server.fetch,
    navigate: (url) => seen.push(`navigate ${url}`),
    onWarn: ({ remaining }) => seen.push(`onWarn ${remaining}`),
  })

beforeAll(installWebLocks)
beforeEach(() => {
  vi.useFakeTimers({ now: Date.UTC(2030, 0, 1, 9) })
  server = fakeServer({ warnAfter: 20, expireAfter: 30 })
  seen = []
  for (const name of ['warn', 'active', 'expire']) {
    window.addEventListener(`sessionward:${name}`, record)
  }
})
afterEach(async () => {
  ward?.stop()
  cleanup()
  await wait(1)
  for (const name of ['warn', 'active', 'expire']) {
    window.removeEventListener(`sessionward:${name}`, record)
  }
  vi.useRealTimers()
})

describe('issue 25 item 2: @sessionward/client/headless', () => {
  test('warns through callbacks and events, never a dialog; page input dismisses it; expires and redirects', async () => {
    ward = headless()
    ward.start()
    await wait(20)
    expect(ward.getState()).toBe('warning')
    expect(seen).toEqual(['onWarn 8', 'sessionward:warn'])
    // The default `dialog: true` shows nothing here: the app shows the warning.
    expect(document.querySelector(HOST)).toBeNull()
    window.dispatchEvent(trusted(new KeyboardEvent('keydown')))
    await wait(0)
    expect(ward.getState()).toBe('active')
    expect(seen.at(-1)).toBe('sessionward:active')
    await wait(30)
    expect(ward.getState()).toBe('expired')
    expect(seen.slice(-2)).toEqual(['sessionward:expire', 'navigate /login?reason=idle'])
    expect(server.logouts).toBe(1)
  })

  test('pause, whilePending and the leader are there too', async () => {
    ward = headless()
    ward.start()
    await wait(0)
    expect(ward.isLeader()).toBe(true)
    let finish = (): void => {}
    const pending = ward.whilePending(new Promise<void>((resolve) => (finish = resolve)))
    expect(ward.isPaused()).toBe(true)
    await wait(60)
    expect(ward.getState()).toBe('active')
    finish()
    await pending
    expect(ward.isPaused()).toBe(false)
  })

  test('a bad option: a TypeError naming it and the value it got (the full entry words it in full)', () => {
    const bad = { pingUrl: '/p', warnAfter: '20' } as never
    expect(() => createSessionWard(bad)).toThrow(
      new TypeError('sessionward: warnAfter is not valid, got "20"'),
    )
    expect(() => full.createSessionWard(bad)).toThrow(
      new TypeError('sessionward: warnAfter must be a positive number of seconds, got "20"'),
    )
    expect(() => createSessionWard({ pingUrl: '/p', warnafter: 20 } as never)).toThrow(
      new TypeError('sessionward: unknown option "warnafter"'),
    )
    expect(() => createSessionWard(undefined as never)).toThrow(
      new TypeError('sessionward: options is not valid, got undefined'),
    )
    expect(() => full.createSessionWard(undefined as never)).toThrow(
      new TypeError('sessionward: options must be an object with at least pingUrl, got undefined'),
    )
  })

  test('the full entry is the same ward plus the dialog', async () => {
    expect(full.createSessionWard).not.toBe(createSessionWard)
    ward = full.createSessionWard({ pingUrl: '/session/ping', fetch: server.fetch })
    ward.start()
    await wait(20)
    expect(document.querySelector(HOST)).not.toBeNull()
  })

  test('the React adapter takes a headless ward (the Vue one: vue.test.ts)', async () => {
    ward = headless()
    function State() {
      return h('output', { 'data-testid': 'state' }, useSessionWard().state)
    }
    render(h(SessionWardProvider, { ward }, h(State)))
    await wait(0)
    expect(screen.getByTestId('state').textContent).toBe('active')
  })
})
