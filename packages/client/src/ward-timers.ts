/** setTimeout runs a longer delay at once, so long waits are checked in steps. */
const MAX_DELAY = 2 ** 31 - 1

/** One timer that is set again for each new deadline (the machine's `nextCheck`). */
export interface Alarm {
  /** Fires at `at` (a time, in milliseconds since the epoch), or never for null. */
  set(at: number | null): void
  clear(): void
}

/**
 * The ward's one timer for its deadlines: setting it again replaces the last one, and a deadline
 * past fires at once. A late timer is harmless: the machine reads the clock when it fires.
 * @example
 * const alarm = createAlarm(check)
 * alarm.set(nextCheck(state, delay))
 */
export function createAlarm(fire: () => void): Alarm {
  let timer: ReturnType<typeof setTimeout> | undefined
  return {
    set(at) {
      clearTimeout(timer)
      // A negative delay (a deadline past) is 0 to setTimeout.
      timer = at === null ? undefined : setTimeout(fire, Math.min(at - Date.now(), MAX_DELAY))
    },
    clear: () => clearTimeout(timer),
  }
}
