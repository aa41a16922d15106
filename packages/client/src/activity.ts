/** Events that mean a person is at the page. `focus` in the capture phase sees every element's. */
export const ACTIVITY_EVENTS = [
  'mousemove',
  'pointerdown',
  'keydown',
  'wheel',
  'scroll',
  'touchstart',
  'focus',
] as const

/** At most one activity timestamp per this many milliseconds. */
export const THROTTLE = 1000

/**
 * Calls `onActivity` with a timestamp when the user moves, types, scrolls or touches, at most
 * once per second. Listeners are passive and on the capture phase of `window`, so no page code
 * can stop them and scrolling never waits for them. After each timestamp they are detached for
 * the rest of the second: a mouse reports up to 1000 moves a second, and an event nobody listens
 * to costs the page nothing. `ignore` filters events (e.g. the warning dialog's own).
 * Returns a function that removes every listener and timer.
 * @example
 * const stop = watchActivity(window, (at) => console.log('active at', at))
 */
export function watchActivity(
  target: EventTarget,
  onActivity: (at: number) => void,
  ignore: (event: Event) => boolean = () => false,
): () => void {
  const options: AddEventListenerOptions = { capture: true, passive: true }
  let timer: ReturnType<typeof setTimeout> | undefined
  const listen = (on: boolean): void => {
    for (const type of ACTIVITY_EVENTS) {
      if (on) target.addEventListener(type, listener, options)
      else target.removeEventListener(type, listener, options)
    }
  }
  function listener(event: Event): void {
    if (ignore(event)) return
    listen(false)
    timer = setTimeout(() => listen(true), THROTTLE)
    onActivity(Date.now())
  }
  listen(true)
  return () => {
    clearTimeout(timer)
    listen(false)
  }
}
