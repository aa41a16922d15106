import {
  afterEach,
  beforeAll,
  beforeEach,
  describe,
  expect,
  onTestFinished,
  test,
  vi,
} from 'vitest'
import { formatTime, HOST } from './dialog.ts'
import { installWebLocks, trusted } from './test-support/browser.ts'
import { type FakeServer, fakeServer } from './test-support/server.ts'
import { openTabs, type Tab, wait } from './test-support/ward.ts'
import type { SessionWard } from './ward.ts'

const T0 = Date.UTC(2030, 0, 1, 9)
// The dialog's hooks are in the open shadow root of its <sessionward-dialog> host.
const SHADOW = (): ShadowRoot | null => document.querySelector(HOST)?.shadowRoot ?? null
const HOOK = (name: string): HTMLElement | null =>
  SHADOW()?.querySelector<HTMLElement>(`[data-sessionward="${name}"]`) ?? null
const dialog = (): HTMLDialogElement | null => HOOK('dialog') as HTMLDialogElement | null
/** A person's input (trusted, as the browser marks it) at `target`. */
const user = (type: string, target: EventTarget = document.body, init: KeyboardEventInit = {}) =>
  target.dispatchEvent(trusted(new KeyboardEvent(type, { bubbles: true, ...init })))
const move = (target: EventTarget = document.body): boolean => user('mousemove', target)
/**
 * Marks every focus and scroll event of the current test trusted, as Chromium does for those a
 * script's `focus()` or `scrollTo()` causes (happy-dom marks none).
 */
function trustFocusAndScroll(): void {
  const mark = (event: Event): void => void trusted(event)
  const types = ['focus', 'focusin', 'scroll']
  // Registered before the ward's listeners, so they see the mark.
  for (const type of types) window.addEventListener(type, mark, true)
  onTestFinished(() => {
    for (const type of types) window.removeEventListener(type, mark, true)
  })
}

/** happy-dom ignores the `persisted` init of PageTransitionEvent, so it is set on the event. */
const pageshow = (persisted: boolean): Event =>
  Object.defineProperty(new Event('pageshow'), 'persisted', { value: persisted })

let server: FakeServer
let tab: Tab
let ward: SessionWard
let events: string[]

const record = (event: Event): void => {
  const detail = (event as CustomEvent).detail as Record<string, unknown>
  events.push(
    `${event.type.slice('sessionward:'.length)} ${Object.values(detail).join(' ')}`.trim(),
  )
}
const EVENTS = ['warn', 'active', 'expire', 'state'].map((name) => `sessionward:${name}`)

/** One tab with the default dialog; the server says warn at 20 s, expire at 30 s. */
async function open(options: Parameters<typeof openTabs>[1] = {}): Promise<void> {
  server = fakeServer({ warnAfter: 20, expireAfter: 30 })
  const opened = openTabs(1, { dialog: true, ...options }, server)
  tab = opened.tabs[0] as Tab
  ward = tab.ward
  ward.start()
  await wait(0)
}

beforeAll(installWebLocks)
beforeEach(() => {
  vi.useFakeTimers({ now: T0 })
  events = []
  for (const name of EVENTS) window.addEventListener(name, record)
})
afterEach(async () => {
  ward.stop()
  await wait(1)
  for (const name of EVENTS) window.removeEventListener(name, record)
  vi.useRealTimers()
  document.body.replaceChildren()
})

describe('one tab', () => {
  test('asks the server at start and adopts its timings over the local ones', async () => {
    await open()
    expect(server.pings).toEqual([0])
    expect(ward.getState()).toBe('active')
    // Local defaults are 840/900 s; the server's 20/30 s apply.
    expect(ward.getRemaining()).toBe(28)
    await wait(19)
    expect(dialog()).toBeNull()
    await wait(1)
    expect(server.pings).toEqual([0, 20])
    expect(ward.getState()).toBe('warning')
    expect(dialog()?.open).toBe(true)
  })

  test('the warning dialog: an alertdialog, labelled, focused on "Stay", with a countdown', async () => {
    await open()
    await wait(20)
    const root = dialog() as HTMLDialogElement
    expect(root.getAttribute('role')).toBe('alertdialog')
    expect(root.getAttribute('aria-modal')).toBe('true')
    const label = SHADOW()?.getElementById(root.getAttribute('aria-labelledby') ?? '')
    const description = SHADOW()?.getElementById(root.getAttribute('aria-describedby') ?? '')
    expect(label?.textContent).toBe('Are you still there?')
    expect(description?.textContent).toBe('For your security, you will be signed out in 0:08.')
    const countdown = HOOK('countdown') as HTMLElement
    // Announced now and then by a separate live region (see dialog.test.ts), not every second.
    expect(countdown.closest('[aria-live]')).toBeNull()
    expect(countdown.textContent).toBe('0:08')
    expect(SHADOW()?.activeElement).toBe(HOOK('stay'))
    expect(HOOK('stay')?.textContent).toBe('Stay signed in')
    expect(HOOK('logout')?.textContent).toBe('Sign out')
    expect(root.style.getPropertyValue('--sessionward-progress')).toBe('1.0000')
    await wait(4)
    expect(countdown.textContent).toBe('0:04')
    expect(root.style.getPropertyValue('--sessionward-progress')).toBe('0.5000')
    expect(events).toEqual(['state active stopped', 'state warning active', 'warn 8'])
  })

  test('texts are replaceable, the countdown goes where {time} is', async () => {
    await open({
      texts: { title: 'Noch da?', message: 'In {time} werden Sie abgemeldet.', stay: 'Bleiben' },
    })
    await wait(21)
    expect(dialog()?.textContent).toBe('Noch da?In 0:07 werden Sie abgemeldet.BleibenSign out')
  })

  test('"Stay signed in" closes the dialog in place, returns focus and tells the server', async () => {
    const input = document.createElement('input')
    document.body.append(input)
    input.focus()
    await open()
    await wait(22)
    HOOK('stay')?.click()
    await wait(0)
    expect(dialog()?.open).toBe(false)
    expect(document.activeElement).toBe(input)
    expect(ward.getState()).toBe('active')
    expect(server.pings).toEqual([0, 20, 0])
    expect(events).toEqual([
      'state active stopped',
      'state warning active',
      'warn 8',
      'state active warning',
      'active',
    ])
    expect(tab.seen).toEqual(['warn 8', 'active'])
    await wait(19)
    expect(ward.getState()).toBe('active')
  })

  test('Escape means stay', async () => {
    await open()
    await wait(20)
    HOOK('stay')?.dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape', bubbles: true }))
    await wait(0)
    expect(ward.getState()).toBe('active')
    expect(dialog()?.open).toBe(false)
  })

  test('a dialog closed by the browser itself (close request) also means stay', async () => {
    await open()
    await wait(20)
    dialog()?.close()
    await wait(0)
    expect(ward.getState()).toBe('active')
  })

  test('no answer to the warning: expiry, exactly one logout request, redirect', async () => {
    await open()
    await wait(30)
    expect(ward.getState()).toBe('expired')
    expect(server.logouts).toBe(1)
    expect(tab.navigations).toEqual(['/login?reason=idle'])
    expect(dialog()).toBeNull()
    expect(events).toEqual([
      'state active stopped',
      'state warning active',
      'warn 8',
      'state expired warning',
      'expire idle',
    ])
    const logout = server.requests.at(-1)
    expect(logout?.url).toBe('/session/logout')
    expect(logout?.init.credentials).toBe('same-origin')
  })

  test('"Sign out" logs out at once', async () => {
    await open()
    await wait(20)
    HOOK('logout')?.click()
    await wait(0)
    expect(ward.getState()).toBe('expired')
    expect(tab.seen).toEqual(['warn 8', 'expire logout'])
    expect(server.logouts).toBe(1)
    // The reason replaces the one in redirectTo, so the page does not say "inactivity".
    expect(tab.navigations).toEqual(['/login?reason=logout'])
  })

  test('steady mouse activity keeps the session alive with one heartbeat per expireAfter/4', async () => {
    await open()
    for (let second = 0; second < 120; second++) {
      move()
      await wait(1)
    }
    expect(ward.getState()).toBe('active')
    expect(events).toEqual(['state active stopped'])
    // The start ping, then a heartbeat every 7.5 s: 16 in two minutes.
    expect(server.pings.length).toBe(1 + 16)
  })

  test('while the dialog is open no input dismisses it but an answer in it or the app', async () => {
    await open()
    await wait(20)
    expect(server.pings).toEqual([0, 20])
    const input = document.createElement('input')
    document.body.append(input)
    // What closed it in every tab: Tab pressed twice, the wheel over the backdrop (it scrolls the
    // page behind), the window getting focus back; and moves, keys and presses anywhere.
    user('keydown', HOOK('stay') as HTMLElement, { key: 'Tab' })
    user('keydown', HOOK('logout') as HTMLElement, { key: 'Tab' })
    await wait(1)
    user('wheel', dialog() as HTMLDialogElement)
    user('wheel')
    await wait(1)
    window.dispatchEvent(trusted(new FocusEvent('focus')))
    move(dialog() as HTMLDialogElement)
    move()
    await wait(1)
    user('pointerdown', dialog() as HTMLDialogElement)
    user('keydown', input, { key: 'a' })
    user('touchstart')
    await wait(1)
    expect(ward.getState()).toBe('warning')
    expect(dialog()?.open).toBe(true)
    expect(tab.seen).toEqual(['warn 8'])
    // Nothing was reported to the server either.
    expect(server.pings).toEqual([0, 20])
    // The app's activity() answers it, as Stay, Escape and extend() do.
    ward.activity()
    await wait(0)
    expect(ward.getState()).toBe('active')
    expect(dialog()?.open).toBe(false)
    expect(server.pings).toEqual([0, 20, 0])
  })

  test('headless, page activity dismisses the warning: the app shows what it likes', async () => {
    await open({ dialog: false })
    await wait(20)
    expect(ward.getState()).toBe('warning')
    move()
    await wait(0)
    expect(ward.getState()).toBe('active')
    expect(dialog()).toBeNull()
  })

  test('only input a person makes postpones the warning: no synthetic event, focus() or scrollTo()', async () => {
    trustFocusAndScroll()
    const input = document.createElement('input')
    const other = document.createElement('input')
    document.body.append(input, other)
    await open()
    for (let second = 1; second < 20; second++) {
      await wait(1)
      // An app (or a test library) dispatching input events: isTrusted is false.
      for (const type of ['mousemove', 'pointerdown', 'keydown', 'wheel', 'touchstart']) {
        input.dispatchEvent(new KeyboardEvent(type, { bubbles: true }))
      }
      // An app moving focus and scrolling: the browser trusts those events, yet nobody acted.
      ;(second % 2 ? input : other).focus()
      document.dispatchEvent(new Event('scroll'))
      window.scrollTo(0, second)
    }
    expect(ward.getState()).toBe('active')
    await wait(1)
    expect(ward.getState()).toBe('warning')
    // The server heard of no activity after the start either.
    expect(server.pings).toEqual([0, 20])
  })

  test("the dialog's focus return is not activity", async () => {
    trustFocusAndScroll()
    const input = document.createElement('input')
    document.body.append(input)
    input.focus()
    await open()
    await wait(25)
    // Another device is active at 25 s: the deadline ping at 30 s learns it and closes the
    // dialog, which gives focus back to the input.
    server.touch()
    await wait(5)
    expect(server.pings).toEqual([0, 20, 30])
    expect(ward.getState()).toBe('active')
    expect(document.activeElement).toBe(input)
    // The next warning is due 20 s after the other device's activity, not after the focus.
    await wait(14)
    expect(ward.getState()).toBe('active')
    await wait(1)
    expect(ward.getState()).toBe('warning')
    expect(server.pings).toEqual([0, 20, 30, 20])
  })

  test('a 401 in the middle of the warning ends the session with the server reason', async () => {
    await open()
    await wait(22)
    server.ended = 'revoked'
    HOOK('stay')?.click()
    await wait(0)
    expect(ward.getState()).toBe('expired')
    expect(tab.seen).toEqual(['warn 8', 'active', 'expire revoked'])
    expect(tab.navigations).toEqual(['/login?reason=revoked'])
  })

  test('network down: the warning still comes, and past expireAfter the tab logs out (fail safe)', async () => {
    await open()
    server.down = true
    await wait(20)
    expect(ward.getState()).toBe('warning')
    await wait(9)
    expect(ward.getState()).toBe('warning')
    await wait(1)
    expect(ward.getState()).toBe('expired')
    expect(tab.seen).toEqual(['warn 8', 'expire idle'])
    // Logged out here; the page leaves once the server confirms the logout it kept retrying.
    expect(tab.navigations).toEqual([])
    server.down = false
    await wait(60)
    expect(server.ended).toBe('logout')
    expect(tab.navigations).toEqual(['/login?reason=idle'])
  })

  test('a two-hour sleep is resolved on wake by a ping: activity elsewhere keeps the session', async () => {
    await open()
    vi.setSystemTime(Date.now() + 2 * 3600_000)
    server.touch()
    document.dispatchEvent(new Event('visibilitychange'))
    // Nothing is decided before the server answers.
    expect(ward.getState()).toBe('active')
    await wait(0)
    expect(server.pings.at(-1)).toBe(7200)
    expect(ward.getState()).toBe('active')
    expect(server.logouts).toBe(0)
    expect(ward.getRemaining()).toBe(28)
  })

  test('a two-hour sleep that the server confirms ends the session on wake', async () => {
    await open()
    vi.setSystemTime(Date.now() + 2 * 3600_000)
    window.dispatchEvent(new Event('pageshow'))
    await wait(0)
    expect(ward.getState()).toBe('expired')
    expect(tab.seen).toEqual(['expire idle'])
    expect(server.logouts).toBe(1)
  })

  test('a page restored from the back/forward cache asks the server at once; an end it missed logs it out', async () => {
    await open()
    await wait(5)
    // Another tab logged out while this page was cached; the message never reached it.
    server.ended = 'logout'
    window.dispatchEvent(pageshow(true))
    await wait(0)
    expect(server.pings).toEqual([0, 5])
    expect(ward.getState()).toBe('expired')
    expect(dialog()).toBeNull()
    expect(tab.navigations).toEqual(['/login?reason=logout'])
  })

  test('a page that logged out and is restored from the back/forward cache leaves again', async () => {
    await open()
    ward.logout()
    await wait(0)
    expect(tab.navigations).toEqual(['/login?reason=logout'])
    // The back button: the page comes back as it was left, signed-in content and all.
    window.dispatchEvent(pageshow(true))
    await wait(0)
    expect(tab.navigations).toEqual(['/login?reason=logout', '/login?reason=logout'])
    expect(ward.getState()).toBe('expired')
    expect(server.logouts).toBe(1)
  })

  test('13: a restored page stays hidden from pageshow until the server answers; shown when live, never when ended', async () => {
    // The server takes a second to answer.
    let slow = false
    const later = (response: Promise<Response>): Promise<Response> =>
      new Promise((resolve) => setTimeout(() => resolve(response), 1000))
    await open({
      fetch: (url, init) => (slow ? later(server.fetch(url, init)) : server.fetch(url, init)),
    })
    onTestFinished(() => {
      document.documentElement.style.removeProperty('visibility')
    })
    const shown = (): boolean => document.documentElement.style.visibility !== 'hidden'
    await wait(5)
    slow = true
    window.dispatchEvent(pageshow(true))
    expect(shown()).toBe(false)
    await wait(0.9)
    expect(shown()).toBe(false)
    await wait(0.2)
    expect(shown()).toBe(true)
    expect(ward.getState()).toBe('active')
    // No answer at all (the network is down): it stays hidden, and shows with the next answer.
    server.down = true
    window.dispatchEvent(pageshow(true))
    await wait(1.1)
    expect(shown()).toBe(false)
    server.down = false
    await wait(3)
    expect(shown()).toBe(true)
    // Ended while cached: it never shows, it leaves.
    server.ended = 'revoked'
    window.dispatchEvent(pageshow(true))
    // The ping's answer, then the logout request's: a second each.
    await wait(2.1)
    expect(shown()).toBe(false)
    expect(tab.navigations).toEqual(['/login?reason=revoked'])
  })

  test('13: a page that logged out hides itself as it goes into the back/forward cache, so the back button shows nothing of it', async () => {
    await open()
    onTestFinished(() => {
      document.documentElement.style.removeProperty('visibility')
    })
    ward.logout()
    await wait(0)
    expect(tab.navigations).toEqual(['/login?reason=logout'])
    // An app's router may keep this document: nothing is hidden before the page really goes.
    expect(document.documentElement.style.visibility).toBe('')
    window.dispatchEvent(Object.defineProperty(new Event('pagehide'), 'persisted', { value: true }))
    expect(document.documentElement.style.visibility).toBe('hidden')
  })

  test('13: stop() shows a page that waits hidden for the server', async () => {
    await open()
    server.down = true
    window.dispatchEvent(pageshow(true))
    await wait(1)
    expect(document.documentElement.style.visibility).toBe('hidden')
    ward.stop()
    expect(document.documentElement.style.visibility).toBe('')
  })

  test('a timer that fires 70 s late (background throttling) asks the server first', async () => {
    await open()
    await wait(10)
    // The 20 s warning timer fires at 90 s instead; meanwhile another device was active at 80 s.
    vi.setSystemTime(Date.now() + 70_000)
    server.touch()
    await wait(10)
    expect(server.pings).toEqual([0, 90])
    expect(ward.getState()).toBe('active')
    expect(ward.getRemaining()).toBe(18)
  })

  test('start() after expiry begins a fresh session; stop() leaves nothing behind', async () => {
    await open()
    await wait(30)
    expect(ward.getState()).toBe('expired')
    server.ended = null
    server.touch()
    ward.start()
    await wait(20)
    expect(ward.getState()).toBe('warning')
    expect(SHADOW()?.adoptedStyleSheets.length).toBe(1)
    const pings = server.pings.length
    ward.stop()
    await wait(1)
    expect(ward.getState()).toBe('stopped')
    expect(vi.getTimerCount()).toBe(0)
    // The host and its shadow root with the stylesheet are gone.
    expect(document.querySelector(HOST)).toBeNull()
    move()
    document.dispatchEvent(new Event('visibilitychange'))
    await wait(60)
    expect(server.pings.length).toBe(pings)
    expect(events.at(-1)).toBe('state stopped warning')
  })

  test('6: the countdown redraws on its own whole seconds, as getRemaining() reads it', async () => {
    // The server answers 0.3 s after each ping, so the warning opens between two seconds.
    await open({
      fetch: async (url, init) => {
        await new Promise((resolve) => setTimeout(resolve, 300))
        return server.fetch(url, init)
      },
    })
    await wait(20.7)
    expect(ward.getState()).toBe('warning')
    const shown = HOOK('countdown') as HTMLElement
    for (let step = 0; step < 50; step++) {
      expect(shown.textContent).toBe(formatTime(ward.getRemaining() * 1000))
      await wait(0.1)
    }
  })

  test('a throwing callback is reported and changes nothing else', async () => {
    const reported: unknown[] = []
    vi.spyOn(console, 'error').mockImplementation((...args) => reported.push(args[0]))
    await open({
      onWarn: () => {
        throw new Error('app bug')
      },
    })
    await wait(20)
    expect(reported).toEqual(['sessionward: onwarn threw'])
    expect(events).toContain('warn 8')
    expect(dialog()?.open).toBe(true)
    vi.restoreAllMocks()
  })
})

describe('nothing the server sends expires an active user or crashes the SDK', () => {
  test.each([
    ['HTML with 200', 200, '<!doctype html><title>Login</title>'],
    ['500', 500, 'Internal Server Error'],
    ['503 store_unavailable', 503, '{"error":"store_unavailable","message":"down"}'],
    ['{}', 200, '{}'],
    [
      'huge numbers',
      200,
      '{"idleFor":1e308,"warnAfter":1e300,"expireAfter":1e308,"expiresIn":1e308}',
    ],
    ['negative idleFor', 200, '{"idleFor":-100000,"warnAfter":20,"expireAfter":30,"expiresIn":-5}'],
    ['a JSON string', 200, '"ok"'],
    ['an empty body', 200, ''],
  ])('%s', async (_name, status, body) => {
    await open({ warnAfter: 20, expireAfter: 30 })
    server.reply = { status, body }
    for (let second = 0; second < 180; second++) {
      if (second % 5 === 0) move()
      await wait(1)
    }
    expect(ward.getState()).toBe('active')
    expect(events).toEqual(['state active stopped'])
    expect(server.logouts).toBe(0)
    expect(server.pings.length).toBeGreaterThan(5)
  })
})
