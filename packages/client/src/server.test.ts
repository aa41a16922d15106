import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest'
import { connect, REQUEST_TIMEOUT, readPing } from './server.ts'

describe('reading ping answers', () => {
  test('a full answer, in milliseconds', () => {
    expect(
      readPing(200, { idleFor: 3.5, warnAfter: 20, expireAfter: 30, expiresIn: 3600 }),
    ).toEqual({
      type: 'answer',
      view: { idleFor: 3500, warnAfter: 20_000, expireAfter: 30_000, expiresIn: 3_600_000 },
    })
  })

  test.each([
    [
      '401 session_ended carries the reason',
      401,
      { error: 'session_ended', reason: 'revoked' },
      { type: 'ended', reason: 'revoked' },
    ],
    [
      '401 unauthenticated',
      401,
      { error: 'unauthenticated', message: 'No session' },
      { type: 'ended', reason: 'unauthenticated' },
    ],
    ['401 from a proxy, as HTML', 401, undefined, { type: 'ended', reason: 'unauthenticated' }],
    ['HTML (a login page after a redirect)', 200, undefined, { type: 'unreachable' }],
    ['500', 500, { error: 'oops' }, { type: 'unreachable' }],
    ['503 store_unavailable', 503, { error: 'store_unavailable' }, { type: 'unreachable' }],
    ['400 invalid_request', 400, { error: 'invalid_request' }, { type: 'unreachable' }],
    ['a JSON array', 200, [1, 2], { type: 'unreachable' }],
    ['{}: reached, but nothing known', 200, {}, { type: 'answer', view: {} }],
    [
      'huge numbers are ignored',
      200,
      { idleFor: 1e308, warnAfter: 1e307, expireAfter: 1e308, expiresIn: Number.MAX_VALUE },
      { type: 'answer', view: {} },
    ],
    [
      'negative idleFor is ignored',
      200,
      { idleFor: -5, warnAfter: 20, expireAfter: 30 },
      { type: 'answer', view: { warnAfter: 20_000, expireAfter: 30_000 } },
    ],
    [
      'numbers as strings are ignored',
      200,
      { idleFor: '3', warnAfter: '20', expireAfter: 30 },
      { type: 'answer', view: {} },
    ],
    [
      'warnAfter not before expireAfter is ignored',
      200,
      { warnAfter: 30, expireAfter: 20 },
      { type: 'answer', view: {} },
    ],
    [
      'warnAfter 0 is ignored',
      200,
      { warnAfter: 0, expireAfter: 20 },
      { type: 'answer', view: {} },
    ],
  ])('%s', (_name, status, body, outcome) => {
    expect(readPing(status, body)).toEqual(outcome)
  })
})

describe('requests', () => {
  beforeEach(() => vi.useFakeTimers())
  afterEach(() => vi.useRealTimers())

  test('the ping: POST, JSON, cookies, the headers option, relative seconds', async () => {
    const seen: Request[] = []
    const server = connect({
      pingUrl: '/session/ping',
      logoutUrl: '/session/logout',
      headers: async () => ({ Authorization: 'Bearer swt_x' }),
      fetch: async (url, init) => {
        seen.push(new Request(new URL(String(url), 'https://app.test'), init))
        return Response.json({ idleFor: 1, warnAfter: 20, expireAfter: 30, expiresIn: 60 })
      },
    })
    expect(await server.ping(12_345.6)).toEqual({
      type: 'answer',
      view: { idleFor: 1000, warnAfter: 20_000, expireAfter: 30_000, expiresIn: 60_000 },
    })
    await server.logout()
    const [ping, logout] = seen
    expect(ping?.method).toBe('POST')
    expect(ping?.url).toBe('https://app.test/session/ping')
    expect(ping?.credentials).toBe('same-origin')
    expect(ping?.headers.get('Authorization')).toBe('Bearer swt_x')
    expect(ping?.headers.get('Content-Type')).toBe('application/json')
    expect(await ping?.json()).toEqual({ idleFor: 12.346 })
    expect(logout?.url).toBe('https://app.test/session/logout')
    expect(logout?.method).toBe('POST')
    expect(logout?.headers.get('Authorization')).toBe('Bearer swt_x')
  })

  test.each([
    [204, true],
    [401, true],
    [404, true],
    [503, false],
    [500, false],
  ])('a logout answered %i is settled: %s', async (status, settled) => {
    const server = connect({
      pingUrl: '/p',
      logoutUrl: '/l',
      headers: {},
      fetch: async () => new Response(null, { status }),
    })
    await expect(server.logout()).resolves.toBe(settled)
  })

  test('a network error, a throwing headers function and a hung request are "unreachable"', async () => {
    const down = connect({
      pingUrl: '/p',
      logoutUrl: '/l',
      headers: {},
      fetch: async () => {
        throw new TypeError('Failed to fetch')
      },
    })
    expect(await down.ping(0)).toEqual({ type: 'unreachable' })
    // A logout that did not reach the server is to be retried.
    await expect(down.logout()).resolves.toBe(false)
    const broken = connect({
      pingUrl: '/p',
      logoutUrl: null,
      headers: () => {
        throw new Error('no token')
      },
      fetch: async () => Response.json({}),
    })
    expect(await broken.ping(0)).toEqual({ type: 'unreachable' })
    const hung = connect({
      pingUrl: '/p',
      logoutUrl: null,
      headers: {},
      fetch: (_url, init) =>
        new Promise((_resolve, reject) => {
          init?.signal?.addEventListener('abort', () =>
            reject(new DOMException('aborted', 'AbortError')),
          )
        }),
    })
    const outcome = hung.ping(0)
    await vi.advanceTimersByTimeAsync(REQUEST_TIMEOUT)
    expect(await outcome).toEqual({ type: 'unreachable' })
    expect(vi.getTimerCount()).toBe(0)
  })

  test('without a logoutUrl, logout sends nothing', async () => {
    let calls = 0
    const server = connect({
      pingUrl: '/p',
      logoutUrl: null,
      headers: {},
      fetch: async () => {
        calls++
        return new Response(null, { status: 204 })
      },
    })
    await server.logout()
    expect(calls).toBe(0)
  })
})
