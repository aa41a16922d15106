/**
 * Input only a person makes. Left out: `scroll` (a script scrolls too; the wheel, keys, touches
 * and scrollbar presses that scroll a page are here) and `focus` (a script's `focus()` and the
 * dialog's focus return fire it too), as react-idle-timer's defaults do.
 */
export const ACTIVITY_EVENTS = [
  'mousemove',
  'pointerdown',
  'keydown',
  'wheel',
  'touchstart',
] as const

/** At most one activity timestamp per this many milliseconds. */
export const THROTTLE = 1000

/**
 * Calls `onActivity` with a timestamp when the user moves, presses, types, turns the wheel or
 * touches, at most once per second. Only trusted events count: one a script dispatches has
 * `isTrusted` false. Listeners are passive and on the capture phase of `window`, so no page code
 * can stop them and scrolling never waits for them. After each timestamp they are detached for
 * the rest of the second: a mouse reports up to 1000 moves a second, and an event nobody listens
 * to costs the page nothing. `ignore` filters events (e.g. all of them while the warning is open).
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
    // Synthetic events are not a person: an app's `dispatchEvent` must not keep a session open.
    if (!event.isTrusted || ignore(event)) return
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
