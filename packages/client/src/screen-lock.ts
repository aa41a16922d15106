// `endOnScreenLock` (issue 23): a locked screen ends the session in every tab, where the browser
// has the Idle Detection API (Chromium). Loaded lazily, only by wards that ask for it.

/** Chromium's IdleDetector, which TypeScript's DOM library does not know. */
interface IdleDetectorInstance extends EventTarget {
  readonly screenState: 'locked' | 'unlocked' | null
  start(options: { threshold: number; signal: AbortSignal }): Promise<void>
}

interface IdleDetectorClass {
  new (): IdleDetectorInstance
  requestPermission(): Promise<PermissionState>
}

/** The shortest threshold the API takes (ms); only `screenState` is read, never the user's. */
const THRESHOLD = 60_000

const detectorClass = (): IdleDetectorClass | undefined =>
  (globalThis as { IdleDetector?: IdleDetectorClass }).IdleDetector

/** Watches that could not start for want of the permission: a grant starts them. */
const waiting = new Set<() => void>()
let said = false

/** The one `debug` line of a page where `endOnScreenLock` cannot work. */
function sayOnce(debug: boolean | undefined, why: string): void {
  if (debug && !said) console.debug(`sessionward: endOnScreenLock does nothing: ${why}`)
  said = true
}

/**
 * Calls `onLock` when the screen locks, until the returned function is called. Without the
 * Idle Detection API it does nothing and says so once (with `debug`); without the permission it
 * waits for `requestScreenLockPermission()` to be granted.
 * @example
 * const unwatch = watchScreenLock({ debug: true }, () => ward.logout())
 */
export function watchScreenLock({ debug }: { debug?: boolean }, onLock: () => void): () => void {
  const Detector = detectorClass()
  if (!Detector) {
    sayOnce(debug, 'this browser has no Idle Detection API (only Chromium has it)')
    return () => {}
  }
  const abort = new AbortController()
  const detector = new Detector()
  const check = (): void => {
    if (detector.screenState === 'locked') onLock()
  }
  detector.addEventListener('change', check)
  const begin = (): void => {
    waiting.delete(begin)
    // Locked already when the watch starts (a tab opened on a locked screen): ended as well.
    detector.start({ threshold: THRESHOLD, signal: abort.signal }).then(check, () => {
      if (abort.signal.aborted) return
      waiting.add(begin)
      sayOnce(debug, 'no permission yet: call ward.requestScreenLockPermission() from a click')
    })
  }
  begin()
  return () => {
    waiting.delete(begin)
    abort.abort()
  }
}

/**
 * Asks for the Idle Detection permission (it needs a user gesture: call it from a click
 * handler). True when granted; then the ward's watch starts. False where the API is missing or
 * the user refused.
 * @example
 * button.onclick = () => askPermission()
 */
export async function askPermission(): Promise<boolean> {
  const Detector = detectorClass()
  if (!Detector) return false
  try {
    if ((await Detector.requestPermission()) !== 'granted') return false
  } catch {
    // Refused outside a user gesture.
    return false
  }
  for (const begin of [...waiting]) begin()
  return true
}
