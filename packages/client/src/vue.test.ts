import { afterEach, beforeAll, beforeEach, describe, expect, test, vi } from 'vitest'
import { createApp, defineComponent, h, nextTick } from 'vue'
import { createSessionWard as createHeadlessWard } from './headless.ts'
import { createSessionWard, type SessionWard, type SessionWardOptions } from './index.ts'
import { installWebLocks } from './test-support/browser.ts'
import { type FakeServer, fakeServer } from './test-support/server.ts'
import { headlessOptions, wait } from './test-support/ward.ts'
import { useNewDevice, useSessionWard } from './vue.ts'

const T0 = Date.UTC(2030, 0, 1, 9)

let server: FakeServer
let navigations: string[]
let unmounts: Array<() => void>

/** A headless ward against the fake server (warning at 20 s, expiry at 30 s). */
const options = (): SessionWardOptions => headlessOptions(server, navigations)

/** A component that shows the composable's refs and its buttons, as a page would. */
const Status = defineComponent({
  props: { input: { type: Object, required: true } },
  setup(props) {
    // biome-ignore lint/correctness/useHookAtTopLevel: a Vue composable, called in setup()
    const ward = useSessionWard(props.input as SessionWardOptions | SessionWard)
    return () =>
      h('div', [
        h('output', { 'data-testid': 'state' }, ward.state.value),
        h('span', { 'data-testid': 'remaining' }, String(ward.remaining.value)),
        h('button', { onClick: ward.extend }, 'Stay'),
        h('button', { onClick: ward.logout }, 'Sign out'),
        h(
          'button',
          { onClick: ward.paused.value ? ward.resume : ward.pause },
          ward.paused.value ? 'Resume' : 'Pause',
        ),
      ])
  },
})

/** Mounts `Status` in its own element; returns that element and a way to unmount it. */
function mount(input: SessionWardOptions | SessionWard): { root: HTMLElement; unmount(): void } {
  const root = document.createElement('div')
  document.body.append(root)
  const app = createApp(Status, { input })
  app.mount(root)
  const unmount = () => {
    app.unmount()
    root.remove()
  }
  unmounts.push(unmount)
  return { root, unmount }
}

const text = (root: HTMLElement, testId: string): string | null | undefined =>
  root.querySelector(`[data-testid="${testId}"]`)?.textContent
const button = (root: HTMLElement, label: string): HTMLButtonElement | undefined =>
  [...root.querySelectorAll('button')].find((b) => b.textContent === label)
/** Lets fake time pass, then lets Vue redraw. */
const pass = async (seconds: number): Promise<void> => {
  await wait(seconds)
  await nextTick()
}

beforeAll(installWebLocks)
beforeEach(() => {
  vi.useFakeTimers({ now: T0 })
  server = fakeServer({ warnAfter: 20, expireAfter: 30 })
  navigations = []
  unmounts = []
})
afterEach(async () => {
  for (const unmount of unmounts) unmount()
  await wait(1)
  vi.useRealTimers()
  document.body.replaceChildren()
})

describe('useSessionWard (Vue)', () => {
  test('issue 25 item 2: takes a ward from @sessionward/client/headless', async () => {
    const { root } = mount(createHeadlessWard(options()))
    await pass(20)
    expect(text(root, 'state')).toBe('warning')
    button(root, 'Stay')?.click()
    await pass(0)
    expect(text(root, 'state')).toBe('active')
  })

  test('refs show active, then the warning counting down; Stay pings and returns to active', async () => {
    const { root } = mount(options())
    await pass(0)
    expect(text(root, 'state')).toBe('active')
    await pass(20)
    expect(text(root, 'state')).toBe('warning')
    expect(text(root, 'remaining')).toBe('8')
    await pass(1)
    expect(text(root, 'remaining')).toBe('7')

    const before = server.pings.length
    button(root, 'Stay')?.click()
    await pass(0)
    expect(text(root, 'state')).toBe('active')
    expect(server.pings.length).toBe(before + 1)
  })

  test('Sign out sends one logout request and redirects with the reason', async () => {
    const { root } = mount(options())
    await pass(1)
    button(root, 'Sign out')?.click()
    await pass(3)
    expect(text(root, 'state')).toBe('expired')
    expect(server.logouts).toBe(1)
    expect(navigations).toEqual(['/login?reason=logout'])
  })

  test('pause keeps the session past expireAfter; resume lets idle time count again', async () => {
    const { root } = mount(options())
    await pass(0)
    button(root, 'Pause')?.click()
    await pass(45)
    expect(text(root, 'state')).toBe('active')
    expect(button(root, 'Resume')).toBeDefined()
    expect(server.ended).toBeNull()
    button(root, 'Resume')?.click()
    await pass(20)
    expect(text(root, 'state')).toBe('warning')
  })

  test('components sharing a ward: it runs until the last one unmounts', async () => {
    const ward = createSessionWard(options())
    const first = mount(ward)
    const second = mount(ward)
    await pass(0)
    expect(ward.getState()).toBe('active')
    first.unmount()
    await pass(1)
    expect(ward.getState()).toBe('active')
    expect(text(second.root, 'state')).toBe('active')
    second.unmount()
    await pass(0)
    expect(ward.getState()).toBe('stopped')
  })
})

describe('useNewDevice', () => {
  test('holds the latest new-device sign-in heard while mounted, until dismissed', async () => {
    const seen: { dismiss(): void; text(): string } = { dismiss() {}, text: () => '' }
    const Notice = defineComponent({
      setup() {
        // biome-ignore lint/correctness/useHookAtTopLevel: a Vue composable, called in setup()
        const { notice, dismiss } = useNewDevice()
        seen.dismiss = dismiss
        return () => h('p', notice.value ? `New sign-in: ${notice.value.browser}` : 'none')
      },
    })
    const root = document.createElement('div')
    document.body.append(root)
    const app = createApp(Notice)
    app.mount(root)
    expect(root.textContent).toBe('none')
    window.dispatchEvent(
      new CustomEvent('sessionward:new-device', {
        detail: {
          sessionId: 's2',
          browser: 'Firefox',
          os: 'Windows',
          signedInAt: new Date(),
          held: false,
          end: async () => true,
          approve: async () => true,
        },
      }),
    )
    await nextTick()
    expect(root.textContent).toBe('New sign-in: Firefox')
    seen.dismiss()
    await nextTick()
    expect(root.textContent).toBe('none')
    app.unmount()
    root.remove()
  })
})
