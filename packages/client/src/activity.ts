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
 * to costs the page nothing. After a script's event they are detached until that script has run
 * (a microtask): a loop of `dispatchEvent` calls costs one call of the listener, and no input a
 * person makes can arrive before the running script ends (the browser dispatches it as a task of
 * its own). `ignore` filters events (e.g. all of them while the warning is open).
 * `types`: the events to watch (the `activityEvents` option: ACTIVITY_EVENTS unless the app
 * replaced them). Returns a function that removes every listener and timer.
 * @example
 * const stop = watchActivity(window, (at) => console.log('active at', at), () => false, ACTIVITY_EVENTS)
 */
export function watchActivity(
  target: EventTarget,
  onActivity: (at: number) => void,
  ignore: (event: Event) => boolean,
  types: readonly string[],
): () => void {
  const options: AddEventListenerOptions = { capture: true, passive: true }
  let timer: ReturnType<typeof setTimeout> | undefined
  let stopped = false
  const listen = (on: boolean): void => {
    for (const type of types) {
      if (on && !stopped) target.addEventListener(type, listener, options)
      else target.removeEventListener(type, listener, options)
    }
  }
  function listener(event: Event): void {
    // Synthetic events are not a person: an app's `dispatchEvent` must not keep a session open.
    if (!event.isTrusted) {
      listen(false)
      queueMicrotask(() => listen(true))
    } else if (!ignore(event)) {
      listen(false)
      timer = setTimeout(() => listen(true), THROTTLE)
      onActivity(Date.now())
    }
  }
  listen(true)
  return () => {
    stopped = true
    clearTimeout(timer)
    listen(false)
  }
}

/**
 * Events that start or stop a `<video>` or `<audio>`: `pause` also fires when one plays to its
 * end, `emptied` when a new source stops it (without `pause`).
 */
export const MEDIA_EVENTS = ['play', 'pause', 'emptied'] as const

/**
 * True while a `<video>` or `<audio>` of `doc` plays. The elements' own `paused` and `ended`
 * decide, so a dispatched fake `play` event counts for nothing, and an element removed from the
 * page (which pauses without an event the document sees) is simply no longer found.
 * @example
 * mediaPlaying(document) // false
 */
export const mediaPlaying = (doc: Document): boolean =>
  [...doc.querySelectorAll<HTMLMediaElement>('audio,video')].some((m) => !m.paused && !m.ended)

/**
 * Calls `onChange(mediaPlaying(doc))` at once and whenever a `<video>` or `<audio>` starts or
 * stops. Media events do not bubble: they are caught on the capture phase of the document, so
 * elements added later count too. Returns a function that removes every listener.
 * @example
 * const stop = watchMedia(document, (playing) => (playing ? ward.pause() : ward.resume()))
 */
export function watchMedia(doc: Document, onChange: (playing: boolean) => void): () => void {
  const listener = (): void => onChange(mediaPlaying(doc))
  // `true`: on the capture phase.
  for (const type of MEDIA_EVENTS) doc.addEventListener(type, listener, true)
  listener()
  return () => {
    for (const type of MEDIA_EVENTS) doc.removeEventListener(type, listener, true)
  }
}
