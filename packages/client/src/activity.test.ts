import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest'
import { ACTIVITY_EVENTS, mediaPlaying, THROTTLE, watchActivity, watchMedia } from './activity.ts'
import { trusted } from './test-support/browser.ts'

/** Real input: the browser marks it trusted. */
const user = (type: string, init: EventInit = {}): Event => trusted(new Event(type, init))

/** Watches `window` for the default events, ignoring none, unless told otherwise. */
const watch = (
  onActivity: (at: number) => void,
  ignore: (event: Event) => boolean = () => false,
  types: readonly string[] = ACTIVITY_EVENTS,
): (() => void) => watchActivity(window, onActivity, ignore, types)

describe('activity', () => {
  beforeEach(() => vi.useFakeTimers({ now: Date.UTC(2030, 0, 1) }))
  afterEach(() => vi.useRealTimers())

  test.each(ACTIVITY_EVENTS)('a synthetic %s (isTrusted false) does not count', async (type) => {
    const seen: number[] = []
    const stop = watch((at) => seen.push(at))
    document.body.dispatchEvent(new Event(type, { bubbles: true }))
    window.dispatchEvent(new Event(type))
    expect(seen).toEqual([])
    // Nor does it use up the second: real input right after it (in a task of its own, after the
    // script that dispatched, as the browser delivers it) still counts.
    await Promise.resolve()
    window.dispatchEvent(user(type))
    expect(seen).toEqual([Date.now()])
    stop()
  })

  test('issue 25 item 5: a script’s loop of 10,000 dispatches calls the listener once', async () => {
    const seen: number[] = []
    const stop = watch((at) => seen.push(at))
    let calls = 0
    const event = new MouseEvent('mousemove', { bubbles: true })
    // The listener reads isTrusted first: each read is one call.
    Object.defineProperty(event, 'isTrusted', { get: () => ++calls < 0 })
    for (let i = 0; i < 10_000; i++) document.body.dispatchEvent(event)
    expect(calls).toBe(1)
    // Listening again once that script has run: the next script's dispatch reaches it.
    await Promise.resolve()
    document.body.dispatchEvent(event)
    expect(calls).toBe(2)
    await Promise.resolve()
    window.dispatchEvent(user('mousemove'))
    expect(seen).toEqual([Date.now()])
    stop()
    await Promise.resolve()
    window.dispatchEvent(user('keydown'))
    document.body.dispatchEvent(event)
    expect([calls, seen.length]).toEqual([2, 1])
  })

  test.each<[string, boolean]>([
    ...ACTIVITY_EVENTS.map((type): [string, boolean] => [type, true]),
    // A script calling focus() or scrollTo() causes these, and the browser trusts them.
    ['focus', false],
    ['scroll', false],
  ])('a trusted %s anywhere on the page is activity: %s', (type, counts) => {
    const seen: number[] = []
    const stop = watch((at) => seen.push(at))
    const inner = document.createElement('input')
    document.body.append(inner)
    // The capture phase on window sees events that do not bubble to it (focus, scroll).
    inner.dispatchEvent(user(type, { bubbles: false }))
    expect(seen).toEqual(counts ? [Date.now()] : [])
    stop()
    inner.remove()
  })

  test('one timestamp per second at most, however many events', () => {
    const seen: number[] = []
    const stop = watch((at) => seen.push(at))
    const start = Date.now()
    for (let i = 0; i < 1000; i++) window.dispatchEvent(user('mousemove'))
    vi.advanceTimersByTime(THROTTLE - 1)
    window.dispatchEvent(user('keydown'))
    vi.advanceTimersByTime(1)
    window.dispatchEvent(user('keydown'))
    expect(seen).toEqual([start, start + THROTTLE])
    stop()
  })

  test('a clock set back does not silence activity', () => {
    const seen: number[] = []
    const stop = watch((at) => seen.push(at))
    window.dispatchEvent(user('mousemove'))
    vi.setSystemTime(Date.now() - 60_000)
    vi.advanceTimersByTime(THROTTLE)
    window.dispatchEvent(user('mousemove'))
    expect(seen.length).toBe(2)
    stop()
  })

  test('the returned function also cancels the pending re-listen', () => {
    let count = 0
    const stop = watch(() => count++)
    window.dispatchEvent(user('mousemove'))
    stop()
    expect(vi.getTimerCount()).toBe(0)
    vi.advanceTimersByTime(THROTTLE)
    window.dispatchEvent(user('mousemove'))
    expect(count).toBe(1)
  })

  test('ignored events do not count and do not use up the second', () => {
    const seen: string[] = []
    const dialog = document.createElement('div')
    document.body.append(dialog)
    const stop = watch(
      () => seen.push('activity'),
      (event) => event.target === dialog,
    )
    dialog.dispatchEvent(user('mousemove', { bubbles: true }))
    expect(seen).toEqual([])
    document.body.dispatchEvent(user('mousemove', { bubbles: true }))
    expect(seen).toEqual(['activity'])
    stop()
    dialog.remove()
  })

  test('the returned function removes every listener', () => {
    let count = 0
    const stop = watch(() => count++)
    stop()
    for (const type of ACTIVITY_EVENTS) {
      window.dispatchEvent(user(type))
      vi.advanceTimersByTime(THROTTLE)
    }
    expect(count).toBe(0)
  })

  test('a custom list of events replaces the defaults', () => {
    const seen: string[] = []
    const stop = watch((at) => seen.push(String(at)), undefined, ['scroll'])
    window.dispatchEvent(user('mousemove'))
    expect(seen).toEqual([])
    window.dispatchEvent(user('scroll'))
    expect(seen).toEqual([String(Date.now())])
    stop()
    vi.advanceTimersByTime(THROTTLE)
    window.dispatchEvent(user('scroll'))
    expect(seen.length).toBe(1)
  })
})

describe('playing media', () => {
  let seen: boolean[]
  let stop: () => void
  const media = (tag: 'video' | 'audio'): HTMLMediaElement => {
    const element = document.createElement(tag)
    document.body.append(element)
    return element
  }
  beforeEach(() => {
    seen = []
  })
  afterEach(() => {
    stop()
    document.body.replaceChildren()
  })

  test('a video or audio added later plays: true until none plays any more', async () => {
    stop = watchMedia(document, (playing) => seen.push(playing))
    expect(seen).toEqual([false])
    const video = media('video')
    const audio = media('audio')
    await video.play()
    await audio.play()
    video.pause()
    expect(seen).toEqual([false, true, true, true])
    audio.pause()
    expect(seen.at(-1)).toBe(false)
    expect(mediaPlaying(document)).toBe(false)
  })

  test('an element that ended or was emptied (a new source) does not play', async () => {
    const video = media('video')
    await video.play()
    stop = watchMedia(document, (playing) => seen.push(playing))
    // Already playing when the watch starts: it counts at once.
    expect(seen).toEqual([true])
    Object.defineProperty(video, 'ended', { value: true, configurable: true })
    expect(mediaPlaying(document)).toBe(false)
    Object.defineProperty(video, 'ended', { value: false, configurable: true })
    // happy-dom's load() fires emptied without stopping the element, as a browser does.
    Object.defineProperty(video, 'paused', { value: true, configurable: true })
    video.load()
    expect(seen).toEqual([true, false])
  })

  test('a fake play event on a paused element is no playing media', () => {
    stop = watchMedia(document, (playing) => seen.push(playing))
    media('video').dispatchEvent(new Event('play'))
    expect(seen).toEqual([false, false])
  })

  test('an element removed while playing no longer counts', async () => {
    const video = media('video')
    await video.play()
    expect(mediaPlaying(document)).toBe(true)
    video.remove()
    expect(mediaPlaying(document)).toBe(false)
    stop = () => {}
  })

  test('the returned function removes every listener', async () => {
    stop = watchMedia(document, (playing) => seen.push(playing))
    stop()
    await media('video').play()
    expect(seen).toEqual([false])
  })
})
