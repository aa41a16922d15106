import { afterEach, describe, expect, test, vi } from 'vitest'
import { LOCALES } from './locales/index.ts'
import { heard, type NewDeviceDetail, readNewDevice } from './new-device.ts'
import { describeSignIn, NOTICE_HOST, noticeLocale, showNotice } from './new-device-notice.ts'
import { NOTICE_TEXTS } from './notice-texts.ts'
import { askPermission, watchScreenLock } from './screen-lock.ts'

const AT = new Date('2030-01-01T09:00:00Z')
const DATA = { sessionId: 'b1e2', browser: 'Firefox', os: 'Windows', signedInAt: AT.toISOString() }

const part = (name: string): HTMLElement | null =>
  document
    .querySelector(NOTICE_HOST)
    ?.shadowRoot?.querySelector(`[data-sessionward="notice-${name}"]`) ?? null

/** A detail whose actions answer as told, and record that they were called. */
function detail(overrides: Partial<NewDeviceDetail> = {}): NewDeviceDetail & { calls: string[] } {
  const calls: string[] = []
  return {
    sessionId: 'b1e2',
    browser: 'Firefox',
    os: 'Windows',
    signedInAt: AT,
    held: false,
    end: async () => calls.push('end') > 0,
    approve: async () => calls.push('approve') > 0,
    ...overrides,
    calls,
  }
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0))

afterEach(() => {
  document.querySelector(NOTICE_HOST)?.remove()
  document.documentElement.lang = ''
  vi.unstubAllGlobals()
  vi.restoreAllMocks()
})

describe('readNewDevice', () => {
  test('reads the event data; what is not one is null', () => {
    const read = readNewDevice(DATA, async () => true)
    expect(read).toMatchObject({
      sessionId: 'b1e2',
      browser: 'Firefox',
      os: 'Windows',
      held: false,
    })
    expect(read?.signedInAt.getTime()).toBe(AT.getTime())
    for (const bad of [
      null,
      'x',
      { ...DATA, sessionId: '../../logout' },
      { ...DATA, sessionId: 7 },
      { ...DATA, signedInAt: 'yesterday' },
    ]) {
      expect(readNewDevice(bad, async () => true)).toBeNull()
    }
    // A name that is no string (or empty) is unknown; a long one is cut.
    const odd = readNewDevice({ ...DATA, browser: 3, os: 'x'.repeat(500) }, async () => true)
    expect(odd?.browser).toBeNull()
    expect(odd?.os).toHaveLength(100)
  })

  test('end() and approve() POST the session routes beside the events route', async () => {
    const posted: string[] = []
    const read = readNewDevice({ ...DATA, held: true }, async (path) => posted.push(path) > 0)
    await read?.end()
    await read?.approve()
    expect(posted).toEqual(['sessions/b1e2/report', 'sessions/b1e2/approve'])
    expect(read?.held).toBe(true)
  })
})

describe('heard', () => {
  test('dispatches sessionward:new-device, whose end() posts with the ward’s credentials', async () => {
    const requests: [string, RequestInit][] = []
    const fetch = vi.fn(async (url: string, init: RequestInit) => {
      requests.push([url, init])
      return new Response(null, { status: 204 })
    })
    const seen: NewDeviceDetail[] = []
    const listener = (event: WindowEventMap['sessionward:new-device']) => seen.push(event.detail)
    window.addEventListener('sessionward:new-device', listener)
    heard(
      DATA,
      {
        eventsUrl: '/session/events',
        headers: { 'X-App': '1' },
        fetch: fetch as typeof globalThis.fetch,
      },
      false,
    )
    window.removeEventListener('sessionward:new-device', listener)
    expect(seen).toHaveLength(1)
    expect(await seen[0]?.end()).toBe(true)
    const [url, init] = requests[0] as [string, RequestInit]
    expect(new URL(url).pathname).toBe('/session/sessions/b1e2/report')
    expect(init.method).toBe('POST')
    expect(init.credentials).toBe('same-origin')
    expect(new Headers(init.headers).get('X-App')).toBe('1')
    // Without `notice`, nothing is drawn.
    expect(document.querySelector(NOTICE_HOST)).toBeNull()
  })

  test('a report answered 404 (that session had ended) counts as ended; a 500 does not', async () => {
    const answer = (status: number) =>
      (async () => new Response(null, { status })) as unknown as typeof globalThis.fetch
    const seen: NewDeviceDetail[] = []
    const listener = (event: WindowEventMap['sessionward:new-device']) => seen.push(event.detail)
    window.addEventListener('sessionward:new-device', listener)
    heard(DATA, { eventsUrl: '/session/events', headers: {}, fetch: answer(404) }, false)
    heard(DATA, { eventsUrl: '/session/events', headers: {}, fetch: answer(500) }, false)
    window.removeEventListener('sessionward:new-device', listener)
    expect(await seen[0]?.end()).toBe(true)
    expect(await seen[0]?.approve()).toBe(false)
    expect(await seen[1]?.end()).toBe(false)
  })
})

describe('the notice', () => {
  test('says what signed in and when, in a polite live region, without taking focus', async () => {
    const input = document.createElement('input')
    document.body.append(input)
    input.focus()
    const notice = showNotice(document, detail(), {}, AT.getTime())
    await tick()
    expect(part('message')?.textContent).toBe('New sign-in: Firefox on Windows, just now.')
    expect(part('message')?.getAttribute('role')).toBe('status')
    expect(notice.getAttribute('aria-label')).toBe('Not you?')
    expect(part('end')?.textContent).toBe('End that session')
    expect(part('ok')?.textContent).toBe('Yes, it was me')
    expect(document.activeElement).toBe(input)
    // Non-modal: no dialog, nothing made inert.
    expect(notice.closest('dialog')).toBeNull()
    input.remove()
  })

  test('"End that session" ends it and says so; "Yes, it was me" dismisses (approves when held)', async () => {
    const one = detail()
    showNotice(document, one, {}, AT.getTime())
    part('end')?.click()
    await tick()
    expect(one.calls).toEqual(['end'])
    expect(part('message')?.textContent).toBe('That session has ended.')
    part('close')?.click()
    expect(part('message')).toBeNull()

    const held = detail({ held: true })
    showNotice(document, held, {}, AT.getTime())
    part('ok')?.click()
    await tick()
    expect(held.calls).toEqual(['approve'])
    expect(part('message')).toBeNull()
  })

  test('answered in one tab, the sign-in’s notices in the app’s other tabs close', async () => {
    // Each notice stands for one tab's (a document each in the browser; one here): the channel
    // between them is the app's (`channelName`).
    const channelName = `notices-${Math.random()}`
    const notices = (sessionId: string) =>
      [...(document.querySelector(NOTICE_HOST)?.shadowRoot?.querySelectorAll('section') ?? [])]
        .filter((notice) => notice.dataset.session === sessionId)
        .map((notice) => notice.querySelector('p')?.textContent)
    const show = (sessionId: string) => {
      const notice = showNotice(document, detail({ sessionId }), { channelName }, AT.getTime())
      notice.dataset.session = sessionId
      return notice
    }
    const [here] = [show('b1e2'), show('b1e2'), show('b1e2')]
    const other = show('c3d4')
    await tick()
    expect(notices('b1e2')).toHaveLength(3)

    here?.querySelector<HTMLButtonElement>('[part=end]')?.click()
    // This tab says it ended; the other tabs' notices of that sign-in close, another stays.
    await vi.waitFor(() => expect(notices('b1e2')).toEqual(['That session has ended.']))
    expect(notices('c3d4')).toHaveLength(1)

    const [, elsewhere] = [show('c3d4'), show('c3d4')]
    other.querySelector<HTMLButtonElement>('[part=ok]')?.click()
    await vi.waitFor(() => expect(notices('c3d4')).toEqual([]))
    expect(elsewhere?.isConnected).toBe(false)
  })

  test('a refused end says so and keeps its buttons', async () => {
    showNotice(document, detail({ end: async () => false }), {}, AT.getTime())
    await tick()
    part('end')?.click()
    await tick()
    expect(part('message')?.textContent).toMatch(/could not be ended/)
    expect((part('end') as HTMLButtonElement).disabled).toBe(false)
  })

  test('speaks the page’s language (or the locale option), right to left where it is', async () => {
    document.documentElement.lang = 'de-AT'
    const notice = showNotice(document, detail(), {}, AT.getTime())
    await tick()
    expect(part('message')?.textContent).toBe('Neue Anmeldung: Firefox unter Windows, gerade eben.')
    expect(notice.lang).toBe('de-AT')
    notice.remove()
    const arabic = showNotice(document, detail(), { locale: 'ar' }, AT.getTime())
    expect(arabic.dir).toBe('rtl')
    expect(noticeLocale('zh-HK', '').texts).toEqual(noticeLocale('zh-TW', '').texts)
    expect(noticeLocale({ tag: 'ur' }, 'de').tag).toBe('en')
    expect(noticeLocale('not a tag!', '').tag).toBe('en')
  })

  test('every shipped locale has every text, with its placeholders', () => {
    expect(Object.keys(NOTICE_TEXTS).sort()).toEqual([...LOCALES].sort())
    for (const [tag, texts] of Object.entries(NOTICE_TEXTS)) {
      expect(
        Object.keys(texts).filter((key) => key !== 'rtl'),
        tag,
      ).toHaveLength(10)
      expect(texts.title, tag).toMatch(/\{device\}.*\{when\}/s)
      expect(texts.device, tag).toContain('{browser}')
      expect(texts.device, tag).toContain('{os}')
    }
  })

  test('an older sign-in says how long ago; unknown browser and system are said so', () => {
    const en = noticeLocale('en', '')
    const older = { browser: null, os: null, signedInAt: AT }
    expect(describeSignIn(en, older, AT.getTime() + 5 * 60_000)).toBe(
      'New sign-in: an unknown browser, 5 minutes ago.',
    )
    expect(describeSignIn(en, { ...older, os: 'Android' }, AT.getTime())).toBe(
      'New sign-in: Android, just now.',
    )
  })
})

/** A stand-in for Chromium's IdleDetector, its permission granted or not. */
function fakeIdleDetector(granted: { value: boolean }) {
  const made: (EventTarget & { screenState: string | null; lock(): void })[] = []
  class IdleDetector extends EventTarget {
    screenState: string | null = null
    static requestPermission = async () => {
      granted.value = true
      return 'granted'
    }
    constructor() {
      super()
      made.push(this)
    }
    async start(): Promise<void> {
      if (!granted.value) throw new DOMException('not allowed', 'NotAllowedError')
      this.screenState = 'unlocked'
    }
    lock(): void {
      this.screenState = 'locked'
      this.dispatchEvent(new Event('change'))
    }
  }
  vi.stubGlobal('IdleDetector', IdleDetector)
  return made
}

describe('the screen-lock watch', () => {
  test('without the API it does nothing and says so once with debug', async () => {
    const debug = vi.spyOn(console, 'debug').mockImplementation(() => {})
    vi.stubGlobal('IdleDetector', undefined)
    watchScreenLock({ debug: true }, () => {})()
    watchScreenLock({ debug: true }, () => {})()
    expect(debug.mock.calls.filter(([line]) => /endOnScreenLock/.test(line))).toHaveLength(1)
    expect(await askPermission()).toBe(false)
  })

  test('a locked screen calls onLock; without permission it waits for the grant', async () => {
    const granted = { value: false }
    const made = fakeIdleDetector(granted)
    const locks: string[] = []
    const unwatch = watchScreenLock({}, () => locks.push('locked'))
    await tick()
    expect(await askPermission()).toBe(true)
    await tick()
    made[0]?.lock()
    expect(locks).toEqual(['locked'])
    unwatch()
  })
})
