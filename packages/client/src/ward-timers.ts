/**
 * setTimeout runs a delay over 2 ** 31 - 1 ms (24.8 days) at once, so long waits are checked in
 * steps: of 10 ** 9 ms (11.6 days), shorter to write.
 */
const MAX_DELAY = 1e9

/** One timer, set for `at` (a time, in milliseconds since the epoch), or cleared by null. */
export type Alarm = (at: number | null) => void

/**
 * The ward's one timer for its deadlines (the machine's `nextCheck`): setting it again replaces
 * the last one, and a deadline past fires at once. A late timer is harmless: the machine reads
 * the clock when it fires. A function, not an object with `set` and `clear`: smaller.
 * @example
 * const alarm = createAlarm(check)
 * alarm(nextCheck(state, delay))
 */
export function createAlarm(fire: () => void): Alarm {
  let timer: ReturnType<typeof setTimeout> | undefined
  return (at) => {
    clearTimeout(timer)
    // A negative delay (a deadline past) is 0 to setTimeout.
    if (at !== null) timer = setTimeout(fire, Math.min(at - Date.now(), MAX_DELAY))
  }
}
