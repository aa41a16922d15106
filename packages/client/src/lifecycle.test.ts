import { expect, test } from 'vitest'
import { watchLifecycle } from './lifecycle.ts'

/** happy-dom ignores the `persisted` init of PageTransitionEvent, so it is set on the event. */
const pageshow = (persisted: boolean): Event =>
  Object.defineProperty(new Event('pageshow'), 'persisted', { value: persisted })

test('visibility, focus, back/forward cache and resume from freeze all wake the ward', () => {
  const wakes: boolean[] = []
  const restores: boolean[] = []
  const stop = watchLifecycle(
    window,
    (resumed, restored) => {
      wakes.push(resumed)
      restores.push(restored)
    },
    () => {},
  )
  document.dispatchEvent(new Event('visibilitychange'))
  window.dispatchEvent(new Event('focus'))
  window.dispatchEvent(pageshow(false))
  window.dispatchEvent(pageshow(true))
  document.dispatchEvent(new Event('resume'))
  // Only a page that was frozen or cached may have missed messages from other tabs.
  expect(wakes).toEqual([false, false, false, true, true])
  // Only the back/forward cache brings back a page the user may have left signed out.
  expect(restores).toEqual([false, false, false, true, false])
  stop()
  document.dispatchEvent(new Event('visibilitychange'))
  document.dispatchEvent(new Event('resume'))
  expect(wakes.length).toBe(5)
})

test('freeze is reported before the browser freezes the tab, until stopped', () => {
  let freezes = 0
  const stop = watchLifecycle(
    window,
    () => {},
    () => freezes++,
  )
  document.dispatchEvent(new Event('freeze'))
  stop()
  document.dispatchEvent(new Event('freeze'))
  expect(freezes).toBe(1)
})
