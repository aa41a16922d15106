import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest'
import { ACTIVITY_EVENTS, THROTTLE, watchActivity } from './activity.ts'

describe('activity', () => {
  beforeEach(() => vi.useFakeTimers({ now: Date.UTC(2030, 0, 1) }))
  afterEach(() => vi.useRealTimers())

  test.each(ACTIVITY_EVENTS)(
    '%s anywhere on the page counts, even if it does not bubble',
    (type) => {
      const seen: number[] = []
      const stop = watchActivity(window, (at) => seen.push(at))
      const inner = document.createElement('div')
      document.body.append(inner)
      // scroll and focus do not bubble: the capture phase on window still sees them.
      inner.dispatchEvent(new Event(type, { bubbles: false }))
      expect(seen).toEqual([Date.now()])
      stop()
      inner.remove()
    },
  )

  test('one timestamp per second at most, however many events', () => {
    const seen: number[] = []
    const stop = watchActivity(window, (at) => seen.push(at))
    const start = Date.now()
    for (let i = 0; i < 1000; i++) window.dispatchEvent(new MouseEvent('mousemove'))
    vi.advanceTimersByTime(THROTTLE - 1)
    window.dispatchEvent(new KeyboardEvent('keydown'))
    vi.advanceTimersByTime(1)
    window.dispatchEvent(new KeyboardEvent('keydown'))
    expect(seen).toEqual([start, start + THROTTLE])
    stop()
  })

  test('a clock set back does not silence activity', () => {
    const seen: number[] = []
    const stop = watchActivity(window, (at) => seen.push(at))
    window.dispatchEvent(new MouseEvent('mousemove'))
    vi.setSystemTime(Date.now() - 60_000)
    vi.advanceTimersByTime(THROTTLE)
    window.dispatchEvent(new MouseEvent('mousemove'))
    expect(seen.length).toBe(2)
    stop()
  })

  test('the returned function also cancels the pending re-listen', () => {
    let count = 0
    const stop = watchActivity(window, () => count++)
    window.dispatchEvent(new MouseEvent('mousemove'))
    stop()
    expect(vi.getTimerCount()).toBe(0)
    vi.advanceTimersByTime(THROTTLE)
    window.dispatchEvent(new MouseEvent('mousemove'))
    expect(count).toBe(1)
  })

  test('ignored events do not count and do not use up the second', () => {
    const seen: string[] = []
    const dialog = document.createElement('div')
    document.body.append(dialog)
    const stop = watchActivity(
      window,
      () => seen.push('activity'),
      (event) => event.target === dialog,
    )
    dialog.dispatchEvent(new MouseEvent('mousemove', { bubbles: true }))
    expect(seen).toEqual([])
    document.body.dispatchEvent(new MouseEvent('mousemove', { bubbles: true }))
    expect(seen).toEqual(['activity'])
    stop()
    dialog.remove()
  })

  test('the returned function removes every listener', () => {
    let count = 0
    const stop = watchActivity(window, () => count++)
    stop()
    for (const type of ACTIVITY_EVENTS) {
      window.dispatchEvent(new Event(type))
      vi.advanceTimersByTime(THROTTLE)
    }
    expect(count).toBe(0)
  })
})
