import { locks } from 'node:worker_threads'

/**
 * happy-dom's navigator.locks is null, which breaks broadcast-channel's leader election.
 * Node's own Web Locks implementation fills the gap, as Node's BroadcastChannel would for
 * messaging: tabs in one test process share locks like tabs of one browser. Loads the
 * broadcast-channel package's channel too: the tests' `simulate` method comes from it, and
 * `tabs.ts` imports it lazily, which under fake time must settle in a microtask, as a cached
 * module does.
 */
export async function installWebLocks(): Promise<void> {
  Object.defineProperty(navigator, 'locks', { value: locks, configurable: true })
  await import('../package-channel.ts')
}

let channels = 0

/** A channel name no other test uses, so wards of different tests never meet. */
export const uniqueChannel = (): string => `sessionward-test-${++channels}`

/**
 * Marks an event as the browser marks real input (`isTrusted` true). happy-dom's events are
 * never trusted, like any a script dispatches; the browser also trusts the focus and scroll
 * events that a script's `focus()` or `scrollTo()` cause, which this lets a test show too.
 * @example
 * input.dispatchEvent(trusted(new KeyboardEvent('keydown', { bubbles: true })))
 */
export function trusted<T extends Event>(event: T): T {
  Object.defineProperty(event, 'isTrusted', { value: true })
  return event
}
