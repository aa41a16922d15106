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
  onFreeze: () => void,
): () => void {
  const doc = win.document
  const done = new AbortController()
  const { signal } = done
  const wake = (): void => onWake(false, false)
  doc.addEventListener('visibilitychange', wake, { signal })
  doc.addEventListener('resume', () => onWake(true, false), { signal })
  doc.addEventListener('freeze', onFreeze, { signal })
  win.addEventListener('focus', wake, { signal })
  win.addEventListener('pageshow', ({ persisted }) => onWake(persisted, persisted), { signal })
  return () => done.abort()
}
