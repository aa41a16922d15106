/**
 * Calls `onWake` whenever a tab may have missed time: it became visible, got focus, came back
 * from the back/forward cache, or was resumed after the browser froze it. Deadlines are
 * re-checked then, because timers in hidden or frozen tabs fire late or not at all.
 * `resumed` tells whether the tab was frozen or cached (it may have missed messages, too);
 * `restored` whether it came back from the back/forward cache (the back button).
 * `onFreeze` runs when the browser is about to freeze the tab.
 * Returns a function that removes every listener.
 * @example
 * const stop = watchLifecycle(window, (resumed, restored) => check(), () => leave())
 */
export function watchLifecycle(
  win: Window,
  onWake: (resumed: boolean, restored: boolean) => void,
  onFreeze: () => void = () => {},
): () => void {
  const doc = win.document
  const wake = (): void => onWake(false, false)
  const resume = (): void => onWake(true, false)
  const show = ({ persisted }: PageTransitionEvent): void => onWake(persisted, persisted)
  doc.addEventListener('visibilitychange', wake)
  doc.addEventListener('resume', resume)
  doc.addEventListener('freeze', onFreeze)
  win.addEventListener('focus', wake)
  win.addEventListener('pageshow', show)
  return () => {
    doc.removeEventListener('visibilitychange', wake)
    doc.removeEventListener('resume', resume)
    doc.removeEventListener('freeze', onFreeze)
    win.removeEventListener('focus', wake)
    win.removeEventListener('pageshow', show)
  }
}
