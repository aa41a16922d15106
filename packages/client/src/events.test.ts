import { afterEach, beforeAll, beforeEach, describe, expect, test, vi } from 'vitest'
import { FIRST_EVENT_TIMEOUT, listen, SILENCE_TIMEOUT, sseParser } from './events.ts'
import { installWebLocks } from './test-support/browser.ts'
import { fakeServer } from './test-support/server.ts'
import { openTabs, type Tab, wait } from './test-support/ward.ts'

/** Feeds `chunks` to a parser and returns the events it dispatched, as `type data`. */
function parse(chunks: string[]): string[] {
  const seen: string[] = []
  const feed = sseParser((type, data) => seen.push(`${type} ${data}`))
  for (const chunk of chunks) feed(chunk)
  return seen
}

describe('Server-Sent Events framing', () => {
  const stream =
    ': keepalive\r\n' +
    'event: policy\r\ndata: {"warnAfter":20,"expireAfter":30}\r\n\r\n' +
    ': keepalive\n\n' +
    'event:ended\rdata:{"reason":\rdata: "admin"}\r\r'
  const events = ['policy {"warnAfter":20,"expireAfter":30}', 'ended {"reason":\n"admin"}']

  test('CRLF, LF and CR line ends, comments, one optional space, multi-line data', () => {
    expect(parse([stream])).toEqual(events)
  })

  test('chunks cut anywhere, even between CR and LF, give the same events', () => {
    expect(parse([...stream])).toEqual(events)
    for (let cut = 1; cut < stream.length; cut++) {
      expect(parse([stream.slice(0, cut), stream.slice(cut)])).toEqual(events)
    }
  })

  test('an event without data is dropped; without a type it is a message; id and retry are ignored', () => {
    expect(parse(['event: policy\n\nid: 7\nretry: 10\ndata\n\ndata: x\n'])).toEqual(['message '])
  })

  test('a line that never ends is refused, not buffered forever', () => {
    const feed = sseParser(() => {})
    expect(() => feed('data: '.padEnd(70_000, 'x'))).toThrow(RangeError)
  })
})

/** A stand-in for the events route: answers with `status` and a body the test writes to. */
function route(status = 200) {
  const requests: Array<{ url: string; init: RequestInit }> = []
  let controller: ReadableStreamDefaultController<Uint8Array> | undefined
  const bytes = new TextEncoder()
  const fetch: typeof globalThis.fetch = async (url, init = {}) => {
    requests.push({ url: String(url), init })
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        controller = c
      },
    })
    init.signal?.addEventListener('abort', () => controller?.error(init.signal?.reason))
    return new Response(body, { status })
  }
  return {
    fetch,
    requests,
    send: (text: string) => controller?.enqueue(bytes.encode(text)),
    end: () => controller?.close(),
  }
}

function open(fetch: typeof globalThis.fetch, headers = {}) {
  const seen: string[] = []
  const close = listen({
    url: '/session/events',
    headers,
    fetch,
    onPolicy: (warnAfter, expireAfter) => seen.push(`policy ${warnAfter} ${expireAfter}`),
    onEnded: (reason) => seen.push(`ended ${reason}`),
    onLost: () => seen.push('lost'),
    onNewDevice: (data) => seen.push(`new-device ${JSON.stringify(data)}`),
  })
  return { seen, close }
}

const json =
  (status: number, body: unknown): typeof fetch =>
  async () =>
    new Response(JSON.stringify(body), { status })

describe('listen', () => {
  beforeEach(() => vi.useFakeTimers())
  afterEach(() => vi.useRealTimers())

  test('sends the ping credentials, reads policy (as milliseconds) and ended, then stops', async () => {
    const server = route()
    const { seen } = open(server.fetch, () => ({ Authorization: 'Bearer swt_test' }))
    await wait(0)
    const { url, init } = server.requests[0] as { url: string; init: RequestInit }
    expect(url).toBe('/session/events')
    expect(init.credentials).toBe('same-origin')
    const headers = new Headers(init.headers)
    expect(headers.get('Authorization')).toBe('Bearer swt_test')
    expect(headers.get('Accept')).toBe('text/event-stream')
    server.send('event: policy\ndata: {"warnAfter":20,"expireAfter":30}\n\n')
    await wait(30)
    server.send(': keepalive\n\nevent: policy\ndata: {"warnAfter":5,"expireAfter":5}\n\n')
    server.send('event: ended\ndata: {"reason":"admin"}\n\n')
    server.send('event: policy\ndata: {"warnAfter":1,"expireAfter":2}\n\n')
    await wait(120)
    // The inconsistent policy (warnAfter = expireAfter) is ignored; nothing comes after ended.
    expect(seen).toEqual(['policy 20000 30000', 'ended admin'])
  })

  test('a new-device event is handed on as its data, and the channel stays open', async () => {
    const server = route()
    const { seen } = open(server.fetch)
    await wait(0)
    server.send('event: policy\ndata: {"warnAfter":20,"expireAfter":30}\n\n')
    server.send('event: new-device\ndata: {"sessionId":"s2","browser":"Firefox"}\n\n')
    server.send('event: ended\ndata: {"reason":"admin"}\n\n')
    await wait(30)
    expect(seen).toEqual([
      'policy 20000 30000',
      'new-device {"sessionId":"s2","browser":"Firefox"}',
      'ended admin',
    ])
  })

  test('a 401 session_ended at connect is an end with its reason; a bare 401 is not', async () => {
    const ended = open(json(401, { error: 'session_ended', reason: 'revoked' }))
    const bare = open(json(401, { error: 'unauthenticated', message: 'no token' }))
    await wait(0)
    expect(ended.seen).toEqual(['ended revoked'])
    expect(bare.seen).toEqual(['lost'])
  })

  test.each([
    ['503', json(503, { error: 'store_unavailable' })],
    ['404 HTML', async () => new Response('<h1>Not found</h1>', { status: 404 })],
    [
      'a network error',
      async () => {
        throw new TypeError('Failed to fetch')
      },
    ],
  ])('%s: the channel is lost', async (_name, fetch: typeof globalThis.fetch) => {
    const { seen } = open(fetch)
    await wait(0)
    expect(seen).toEqual(['lost'])
  })

  test('a proxy that buffers the stream: no first event in time, the channel is lost', async () => {
    const server = route()
    const { seen } = open(server.fetch)
    server.send(': keepalive\n\n')
    await wait(FIRST_EVENT_TIMEOUT / 1000 - 1)
    expect(seen).toEqual([])
    await wait(1)
    expect(seen).toEqual(['lost'])
  })

  test('a stream that falls silent, or ends without ended, is lost', async () => {
    const silent = route()
    const first = open(silent.fetch)
    await wait(0)
    silent.send('event: policy\ndata: {"warnAfter":20,"expireAfter":30}\n\n')
    await wait(SILENCE_TIMEOUT / 1000 - 1)
    expect(first.seen).toEqual(['policy 20000 30000'])
    await wait(1)
    expect(first.seen).toEqual(['policy 20000 30000', 'lost'])
    const closing = route()
    const second = open(closing.fetch)
    await wait(0)
    closing.end()
    await wait(0)
    expect(second.seen).toEqual(['lost'])
  })

  test('after close() nothing is reported', async () => {
    const server = route()
    const { seen, close } = open(server.fetch)
    await wait(0)
    close()
    await wait(FIRST_EVENT_TIMEOUT / 1000)
    expect(seen).toEqual([])
  })
})

describe('the channel in the ward: one per browser, held by the leader', () => {
  const T0 = Date.UTC(2030, 0, 1, 9)
  let opened: Tab[] = []
  const states = (): string[] => opened.map((tab) => tab.ward.getState())
  const holder = (): Tab | undefined => opened.find((tab) => tab.pings > 0)

  /** Starts tabs one after another, as a user opens them. */
  async function start(tabs: Tab[]): Promise<void> {
    opened = tabs
    for (const tab of tabs) {
      tab.ward.start()
      await wait(0.1)
    }
  }

  /** A server and the times (seconds after T0) of every connection to its events route. */
  function timed(server = fakeServer({ warnAfter: 20, expireAfter: 30 })) {
    const connects: number[] = []
    const fetch: typeof globalThis.fetch = (url, init) => {
      if (String(url).endsWith('/events')) connects.push((Date.now() - T0) / 1000)
      return server.fetch(url, init)
    }
    return { server, connects, fetch }
  }

  beforeAll(installWebLocks)
  beforeEach(() => vi.useFakeTimers({ now: T0 }))
  afterEach(async () => {
    for (const tab of opened) tab.ward.stop()
    await wait(1)
    vi.useRealTimers()
  })

  test('three tabs hold one stream, the leader; when it closes the next leader takes it over', async () => {
    const { server, tabs } = openTabs(3)
    await start(tabs)
    await wait(1)
    expect([server.connects, server.streams]).toEqual([1, 1])
    const first = holder() as Tab
    first.ward.stop()
    opened = tabs.filter((tab) => tab !== first)
    await wait(1)
    expect([server.connects, server.streams]).toEqual([2, 1])
  })

  test('a new-device sign-in heard by the leader reaches every tab of the session; an ended tab’s none', async () => {
    const { server, tabs } = openTabs(3)
    const heard: string[] = []
    const record = (event: WindowEventMap['sessionward:new-device']): void => {
      heard.push(event.detail.sessionId)
    }
    window.addEventListener('sessionward:new-device', record)
    try {
      await start(tabs)
      await wait(1)
      expect(server.streams).toBe(1)
      const signIn = { sessionId: 's2', browser: 'Firefox', os: 'Windows', signedInAt: T0 }
      server.push(`event: new-device\ndata: ${JSON.stringify(signIn)}\n\n`)
      // Each tab's ward dispatches it (here all share one window): the leader, and both others.
      await vi.waitFor(() => expect(heard).toEqual(['s2', 's2', 's2']))
      // A tab whose session ended (here: stopped) is no longer told.
      const follower = tabs.find((tab) => tab !== holder()) as Tab
      follower.ward.stop()
      await wait(0.1)
      server.push(`event: new-device\ndata: ${JSON.stringify({ ...signIn, sessionId: 's3' })}\n\n`)
      await vi.waitFor(() => expect(heard.filter((id) => id === 's3')).toHaveLength(2))
      await wait(1)
      expect(heard.filter((id) => id === 's3')).toHaveLength(2)
    } finally {
      window.removeEventListener('sessionward:new-device', record)
    }
  })

  test('ended: every tab logs out at once with the reason, with no logout request and no ping', async () => {
    const { server, tabs } = openTabs(3)
    const expired: string[] = []
    const record = (event: Event): void => {
      expired.push((event as CustomEvent<{ reason: string }>).detail.reason)
    }
    window.addEventListener('sessionward:expire', record)
    await start(tabs)
    await wait(5)
    const pings = server.pings.length
    server.end('admin')
    await wait(0.1)
    window.removeEventListener('sessionward:expire', record)
    expect(states()).toEqual(['expired', 'expired', 'expired'])
    expect(tabs.map((tab) => tab.seen)).toEqual([
      ['expire admin'],
      ['expire admin'],
      ['expire admin'],
    ])
    expect(expired).toEqual(['admin', 'admin', 'admin'])
    // redirectTo is '/login?reason=idle': its reason is replaced.
    expect(tabs.map((tab) => tab.navigations)).toEqual([
      ['/login?reason=admin'],
      ['/login?reason=admin'],
      ['/login?reason=admin'],
    ])
    expect(server.logouts).toBe(0)
    expect(server.pings.length).toBe(pings)
    expect(server.streams).toBe(0)
  })

  test('a 401 session_ended at connect ends every tab the same way', async () => {
    const server = fakeServer({ warnAfter: 20, expireAfter: 30 })
    server.events = {
      status: 401,
      body: '{"error":"session_ended","message":"Session ended","reason":"revoked"}',
    }
    const { tabs } = openTabs(2, {}, server)
    await start(tabs)
    await wait(0.5)
    expect(states()).toEqual(['expired', 'expired'])
    expect(tabs.map((tab) => tab.navigations)).toEqual([
      ['/login?reason=revoked'],
      ['/login?reason=revoked'],
    ])
    expect(server.logouts).toBe(0)
  })

  test('redirectTo as a function gets the reason', async () => {
    const { server, tabs } = openTabs(1, { redirectTo: (reason) => `/signed-out/${reason}` })
    await start(tabs)
    await wait(1)
    server.end('evicted')
    await wait(0.1)
    expect(tabs[0]?.navigations).toEqual(['/signed-out/evicted'])
  })

  test('a policy event replaces the thresholds in every tab; the warning still waits for a ping', async () => {
    const { server, tabs } = openTabs(2)
    await start(tabs)
    await wait(1)
    expect(tabs.map((tab) => tab.ward.getRemaining())).toEqual([27, 27])
    server.warnAfter = 5
    server.expireAfter = 10
    server.push('event: policy\ndata: {"warnAfter":5,"expireAfter":10}\n\n')
    await wait(0.1)
    expect(tabs.map((tab) => tab.ward.getRemaining())).toEqual([7, 7])
    // Now is 1.3 s; the second tab opened at 0.1 s, so the new warning deadline is 5.1 s.
    await wait(3.7)
    expect(states()).toEqual(['active', 'active'])
    await wait(0.2)
    expect(states()).toEqual(['warning', 'warning'])
    // The server was asked at the deadline and confirmed 5 s of idleness.
    expect(server.pings.at(-1)).toBeCloseTo(5, 1)
  })

  test('channel unavailable: pings go on, reconnects back off from 1 s to a minute, reset after a good connection', async () => {
    const { server, connects, fetch } = timed()
    server.events = { status: 503, body: '{"error":"store_unavailable","message":"down"}' }
    const { tabs } = openTabs(1, { fetch }, server)
    await start(tabs)
    for (let second = 0; second < 250; second++) {
      if (second === 190) server.events = 'close'
      tabs[0]?.ward.activity()
      await wait(1)
    }
    expect(states()).toEqual(['active'])
    expect(server.logouts).toBe(0)
    // The start ping, then a heartbeat every 7.5 s.
    expect(server.pings.length).toBeGreaterThanOrEqual(30)
    const at = connects.map((time) => Math.round(time))
    // Each good connection (its policy arrived) resets the backoff: the next try is 1 s later.
    expect(at).toEqual([0, 1, 3, 7, 15, 31, 63, 123, 183, 243, 244, 245, 246, 247, 248, 249, 250])
  })

  test('a proxy that buffers the stream: given up after 10 s, tried again with backoff', async () => {
    const { server, connects, fetch } = timed()
    server.events = 'buffer'
    const { tabs } = openTabs(1, { fetch }, server)
    await start(tabs)
    await wait(25)
    expect(connects.map((time) => Math.round(time))).toEqual([0, 11, 23])
    expect(states()).toEqual(['warning'])
  })

  test('a bare 401 (no session reason) does not log out: the pings decide', async () => {
    const server = fakeServer({ warnAfter: 20, expireAfter: 30 })
    server.events = { status: 401, body: '{"error":"unauthenticated","message":"no token"}' }
    const { tabs } = openTabs(1, {}, server)
    await start(tabs)
    await wait(5)
    expect(states()).toEqual(['active'])
    expect(server.connects).toBeGreaterThan(1)
  })

  test('a frozen leader leaves the channel and takes it back when it resumes', async () => {
    const { server, tabs } = openTabs(1)
    await start(tabs)
    await wait(1)
    expect(server.streams).toBe(1)
    document.dispatchEvent(new Event('freeze'))
    await wait(0.1)
    expect(server.streams).toBe(0)
    document.dispatchEvent(new Event('resume'))
    await wait(0.5)
    expect([server.connects, server.streams]).toEqual([2, 1])
    expect(states()).toEqual(['active'])
  })

  test('no channel when turned off, or where tabs cannot elect a leader', async () => {
    for (const options of [{ eventsUrl: false as const }, { channelType: 'idb' as const }]) {
      const { server, tabs } = openTabs(1, options)
      await start(tabs)
      await wait(5)
      expect(server.connects).toBe(0)
      expect(server.pings.length).toBe(1)
      tabs[0]?.ward.stop()
    }
  })
})
