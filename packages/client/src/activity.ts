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
 * can stop them and scrolling never waits for them. `ignore` filters events (e.g. the warning
 * dialog's own). Returns a function that removes every listener.
 * @example
 * const stop = watchActivity(window, (at) => console.log('active at', at))
 */
export function watchActivity(
  target: EventTarget,
  onActivity: (at: number) => void,
  ignore: (event: Event) => boolean = () => false,
): () => void {
  let last = Number.NEGATIVE_INFINITY
  const listener = (event: Event): void => {
    const now = Date.now()
    // The clock may jump back; a timestamp "from the future" must not silence activity.
    if (now - last < THROTTLE && now >= last) return
    if (ignore(event)) return
    last = now
    onActivity(now)
  }
  const options: AddEventListenerOptions = { capture: true, passive: true }
  for (const type of ACTIVITY_EVENTS) target.addEventListener(type, listener, options)
  return () => {
    for (const type of ACTIVITY_EVENTS) target.removeEventListener(type, listener, options)
  }
}
