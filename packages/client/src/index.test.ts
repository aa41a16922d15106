// @vitest-environment node
import { expect, test } from 'vitest'

test('importing and constructing touch no DOM (server rendering); start() says what it needs', async () => {
  expect(typeof globalThis.window).toBe('undefined')
  const { createSessionWard, DEFAULT_TEXTS } = await import('./index.ts')
  const ward = createSessionWard({ pingUrl: '/session/ping' })
  expect(ward.getState()).toBe('stopped')
  expect(ward.getRemaining()).toBe(0)
  expect(DEFAULT_TEXTS.stay).toBe('Stay signed in')
  expect(() => ward.start()).toThrow('sessionward: start() needs a browser window')
})

test('pause() and whilePending() hold the ward during server rendering, with no window to tell', async () => {
  const { createSessionWard } = await import('./index.ts')
  const ward = createSessionWard({ pingUrl: '/session/ping' })
  ward.pause()
  expect(ward.isPaused()).toBe(true)
  await ward.whilePending(Promise.resolve())
  ward.resume()
  expect(ward.isPaused()).toBe(false)
})
