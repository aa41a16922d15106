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
import de from './locales/de.ts'
import type { MachineEvent } from './machine.ts'
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

  test('the locale option picks the dialog’s language; texts still replace single strings', async () => {
    await open({ locale: 'de', texts: { stay: 'Weiterarbeiten' } })
    await wait(21)
    expect(dialog()?.getAttribute('lang')).toBe('de')
    expect(dialog()?.textContent).toBe(
      `${de.texts.title}Zu Ihrer Sicherheit werden Sie in 0:07 abgemeldet.Weiterarbeiten${de.texts.logout}`,
    )
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
    // The request reaches the server after the second: a refusal then rejects in the ward's
    // hands, not in a promise nobody awaits yet.
    const later = (answer: () => Promise<Response>): Promise<Response> =>
      new Promise((resolve) => setTimeout(() => resolve(answer()), 1000))
    await open({
      fetch: (url, init) => (slow ? later(() => server.fetch(url, init)) : server.fetch(url, init)),
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

let tabs: Tab[]
/** Two headless tabs on one channel (`ward` is the first); the server says warn at 20 s, expire at 30 s. */
async function openTwo(options: Parameters<typeof openTabs>[1] = {}): Promise<void> {
  const opened = openTabs(2, options)
  server = opened.server
  tabs = opened.tabs
  ward = (tabs[0] as Tab).ward
  for (const each of tabs) {
    each.ward.start()
    onTestFinished(() => each.ward.stop())
    await wait(0.1)
  }
}
const states = (): string[] => tabs.map((each) => each.ward.getState())

describe('pause(), resume(), whilePending() and isLeader() (issue 15, items 2 and 3)', () => {
  const a = (): SessionWard => (tabs[0] as Tab).ward
  const b = (): SessionWard => (tabs[1] as Tab).ward

  test('one paused tab keeps every tab and the server session alive past expireAfter', async () => {
    await openTwo()
    b().pause()
    expect([a().isPaused(), b().isPaused()]).toEqual([false, true])
    await wait(120)
    expect(states()).toEqual(['active', 'active'])
    expect(tabs.map((each) => each.seen)).toEqual([[], []])
    expect(server.ended).toBeNull()
    expect(Math.max(...server.pings)).toBeLessThanOrEqual(10)
    // Resumed: idle time counts from now, so both warn 20 s later and end 10 s after that.
    b().resume()
    expect(b().isPaused()).toBe(false)
    await wait(19.5)
    expect(states()).toEqual(['active', 'active'])
    await wait(1)
    expect(states()).toEqual(['warning', 'warning'])
    await wait(10)
    expect(states()).toEqual(['expired', 'expired'])
    expect(server.logouts).toBe(1)
  })

  test('pause() while the warning is open dismisses it in every tab', async () => {
    await openTwo()
    await wait(20)
    expect(states()).toEqual(['warning', 'warning'])
    a().pause()
    await wait(0.1)
    expect(states()).toEqual(['active', 'active'])
    expect(tabs.map((each) => each.seen)).toEqual([
      ['warn 8', 'active'],
      ['warn 8', 'active'],
    ])
  })

  test('a paused tab that closes stops holding: the others warn and expire on its last report', async () => {
    await openTwo()
    b().pause()
    await wait(60)
    b().stop()
    await wait(20)
    expect(a().getState()).toBe('warning')
    await wait(10)
    expect(a().getState()).toBe('expired')
    expect(tabs[0]?.navigations).toEqual(['/login?reason=idle'])
  })

  test('the absolute limit still logs every tab out while paused', async () => {
    await openTwo()
    server.maxAge = 100
    a().pause()
    await wait(99)
    expect(states()).toEqual(['active', 'active'])
    await wait(2)
    expect(states()).toEqual(['expired', 'expired'])
    expect(tabs.map((each) => each.navigations)).toEqual([
      ['/login?reason=absolute'],
      ['/login?reason=absolute'],
    ])
    expect(server.logouts).toBe(1)
  })

  test("the app's hold and a pending request's hold do not cancel each other", async () => {
    await openTwo()
    let finish: (value: string) => void = () => {}
    const upload = new Promise<string>((resolve) => {
      finish = resolve
    })
    a().pause()
    const pending = a().whilePending(upload)
    a().resume()
    expect(a().isPaused()).toBe(true)
    await wait(60)
    expect(states()).toEqual(['active', 'active'])
    finish('stored')
    await expect(pending).resolves.toBe('stored')
    expect(a().isPaused()).toBe(false)
    // And the other way round: a request that settles does not end the app's pause.
    a().pause()
    await expect(a().whilePending(Promise.reject(new Error('offline')))).rejects.toThrow('offline')
    expect(a().isPaused()).toBe(true)
    a().resume()
    a().resume()
    expect(a().isPaused()).toBe(false)
    await wait(21)
    expect(states()).toEqual(['warning', 'warning'])
  })

  test('a hold taken before start() or kept over stop()/start() pauses the started ward', async () => {
    const opened = openTabs(1)
    server = opened.server
    ward = (opened.tabs[0] as Tab).ward
    ward.pause()
    expect(ward.isPaused()).toBe(true)
    ward.start()
    await wait(60)
    expect(ward.getState()).toBe('active')
    ward.stop()
    expect(ward.isPaused()).toBe(true)
    ward.start()
    await wait(60)
    expect(ward.getState()).toBe('active')
    ward.resume()
    await wait(20)
    expect(ward.getState()).toBe('warning')
  })

  test('isLeader(): exactly one tab pings; false once stopped, true for the next leader', async () => {
    await openTwo()
    await wait(1)
    const leaders = (): boolean[] => tabs.map((each) => each.ward.isLeader())
    expect(leaders()).toEqual([true, false])
    expect(tabs[1]?.pings).toBe(0)
    a().stop()
    await wait(1)
    expect(leaders()).toEqual([false, true])
  })
})

describe('opt-in activity sources and debug (issue 15, items 2 and 4)', () => {
  const video = (): HTMLVideoElement => document.body.appendChild(document.createElement('video'))

  test('media: true — a video playing keeps every tab alive; paused, idle counts from then', async () => {
    await openTwo({ media: true })
    // Added after start: media events are caught on the way down, wherever the element is.
    const film = video()
    await film.play()
    await wait(0)
    expect(ward.isPaused()).toBe(true)
    await wait(120)
    expect(states()).toEqual(['active', 'active'])
    expect(server.ended).toBeNull()
    film.pause()
    expect(ward.isPaused()).toBe(false)
    await wait(19.5)
    expect(states()).toEqual(['active', 'active'])
    await wait(1)
    expect(states()).toEqual(['warning', 'warning'])
  })

  test('media and the app hold on their own: a paused video does not end pause()', async () => {
    await openTwo({ media: true })
    const film = video()
    ward.pause()
    await film.play()
    film.pause()
    expect(ward.isPaused()).toBe(true)
    await wait(60)
    expect(states()).toEqual(['active', 'active'])
  })

  test('without media: true a playing video is no activity', async () => {
    await openTwo()
    await video().play()
    expect(ward.isPaused()).toBe(false)
    await wait(20)
    expect(states()).toEqual(['warning', 'warning'])
  })

  test('a playing video removed from the page lets go at the next check', async () => {
    const opened = openTabs(1, { media: true })
    server = opened.server
    ward = (opened.tabs[0] as Tab).ward
    ward.start()
    const film = video()
    await film.play()
    await wait(30)
    film.remove()
    // The next report (at most warnAfter/2 later) notices, then the usual warnAfter runs.
    await wait(10)
    expect(ward.isPaused()).toBe(false)
    await wait(20)
    expect(ward.getState()).toBe('warning')
  })

  test('after expiry and start() the media hold is looked for again, not kept', async () => {
    await openTwo({ media: true })
    const film = video()
    await film.play()
    film.pause()
    await wait(31)
    expect(states()).toEqual(['expired', 'expired'])
    server.ended = null
    server.touch()
    ward.start()
    expect(ward.isPaused()).toBe(false)
    await film.play()
    expect(ward.isPaused()).toBe(true)
  })

  test('activityEvents replaces the defaults: only the listed input postpones the warning', async () => {
    await openTwo({ activityEvents: ['keydown'] })
    for (let second = 0; second < 40; second++) {
      move()
      await wait(1)
    }
    expect(states()).toEqual(['expired', 'expired'])
  })

  test('activityEvents: a listed event is activity', async () => {
    await openTwo({ activityEvents: ['keydown'] })
    for (let second = 0; second < 40; second++) {
      user('keydown')
      await wait(1)
    }
    expect(states()).toEqual(['active', 'active'])
  })

  test('debug: one console.debug line per state change, with its cause and the event', async () => {
    const lines: string[] = []
    vi.spyOn(console, 'debug').mockImplementation((line: string, ...event: MachineEvent[]) => {
      // The event beside the line tells the details, e.g. activity from another tab.
      const from = event[0]?.type === 'activity' ? (event[0].remote ? ' [remote]' : ' [here]') : ''
      lines.push(`${line}${from}`)
    })
    onTestFinished(() => void vi.restoreAllMocks())
    await openTwo({ debug: true })
    const other = (tabs[1] as Tab).ward
    await wait(20)
    other.activity()
    await wait(0.1)
    await wait(20)
    const dismissAt = lines.length
    other.extend()
    await wait(0.1)
    ward.logout()
    await wait(1)
    other.stop()
    expect(lines.slice(0, dismissAt).sort()).toEqual(
      [
        'sessionward: stopped → active (start)',
        'sessionward: stopped → active (start)',
        // The leader asked the server; the follower heard it from the leader. (The fake server
        // answers fractions of a second; the real one whole seconds.)
        'sessionward: active → warning (answer: idle 20 s, expires in 43179.9 s)',
        'sessionward: active → warning (sync)',
        'sessionward: warning → active (activity) [here]',
        'sessionward: warning → active (activity) [remote]',
        'sessionward: active → warning (answer: idle 20 s, expires in 43159.8 s)',
        'sessionward: active → warning (sync)',
      ].sort(),
    )
    expect(lines.slice(dismissAt)).toEqual([
      'sessionward: warning → active (activity) [here]',
      'sessionward: warning → active (activity) [remote]',
      'sessionward: active → expired (logout; reason logout)',
      'sessionward: active → expired (sync; reason logout)',
      'sessionward: expired → stopped (stop)',
    ])
  })

  test('without debug nothing is logged', async () => {
    const debug = vi.spyOn(console, 'debug').mockImplementation(() => {})
    onTestFinished(() => void vi.restoreAllMocks())
    await openTwo()
    await wait(31)
    expect(states()).toEqual(['expired', 'expired'])
    expect(debug).not.toHaveBeenCalled()
  })
})
