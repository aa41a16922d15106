import type { Dialog } from './dialog.ts'
import { COUNTDOWN_MARGIN, countdown, type MachineState } from './machine.ts'

/**
 * Calls the app's callback (an error in it is reported, not thrown into the ward) and
 * dispatches the same detail as `sessionward:<name>` on `window`: in a browser only (a
 * `whilePending` during server rendering holds the ward too, with no window to tell).
 * @example
 * emit('warn', { remaining: 58 }, options.onWarn)
 */
export function emit<T>(name: string, detail: T, callback?: (detail: T) => void): void {
  try {
    callback?.(detail)
  } catch (error) {
    console.error(`sessionward: on${name} threw`, error)
  }
  globalThis.dispatchEvent?.(new CustomEvent(`sessionward:${name}`, { detail }))
}

/**
 * Hides the whole page (`visibility: hidden` on `<html>`, which also keeps it from taking
 * input) or shows it again: the `veil` effect. A page back from the back/forward cache stays
 * hidden until the server has answered: it may show a session that ended while it was cached.
 * @example
 * const veil = createVeil()
 * veil(true)
 */
export function createVeil(): (hidden: boolean) => void {
  let veiled = false
  return (hidden) => {
    // Only what it hid: the app's own inline style on <html> is left alone.
    if (hidden || veiled) document.documentElement.style.visibility = hidden ? 'hidden' : ''
    veiled = hidden
  }
}

/** The warning dialog as the ward drives it (the full entry's, ward.ts). */
export interface WardDialog {
  /** Shows the state as it is now: open with its countdown while warning, else hidden. */
  draw(): void
  /** While it is open, only an answer in it (or the app) dismisses the warning. */
  isOpen(): boolean
  /** Stops its countdown and removes it. */
  destroy(): void
}

/**
 * The dialog as the ward drives it: drawn, and again when its whole seconds change, on the
 * countdown's own seconds, not a free-running interval, so every tab shows the same number at
 * the same moment. Only the full entry carries it (ward.ts).
 * @example
 * const view = showCountdown(createDialog(document, options), () => state)
 * view.draw() // after every change of status
 */
export function showCountdown(dialog: Dialog, state: () => MachineState): WardDialog {
  let ticker: ReturnType<typeof setTimeout> | undefined
  const draw = (): void => {
    clearTimeout(ticker)
    const s = state()
    if (s.status !== 'warning') {
      dialog.hide()
      return
    }
    const left = countdown(s, Date.now())
    dialog.show(left, s.expireAfter - s.warnAfter - COUNTDOWN_MARGIN)
    if (left > 0) ticker = setTimeout(draw, left % 1000 || 1000)
  }
  return {
    draw,
    isOpen: dialog.isOpen,
    destroy() {
      clearTimeout(ticker)
      dialog.destroy()
    },
  }
}

/**
 * The `leave` effect with a destination: goes there. The back button may restore this page,
 * signed-in content and all, from the back/forward cache: it is hidden as it goes in (not
 * before: `navigate` may be an app's router, which keeps this document), and leaves again at
 * once, unless a new session started here (`restarted`).
 * @example
 * leavePage('/login?reason=idle', (url) => location.assign(url), veil, () => false)
 */
export function leavePage(
  url: string,
  navigate: (url: string) => void,
  veil: (hidden: boolean) => void,
  restarted: () => boolean,
): void {
  window.addEventListener('pagehide', (event) => {
    if (event.persisted) veil(true)
  })
  window.addEventListener('pageshow', (event) => {
    if (event.persisted && !restarted()) navigate(url)
  })
  navigate(url)
}
