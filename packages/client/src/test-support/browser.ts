import { locks } from 'node:worker_threads'

/**
 * happy-dom's navigator.locks is null, which breaks broadcast-channel's leader election.
 * Node's own Web Locks implementation fills the gap, as Node's BroadcastChannel would for
 * messaging: tabs in one test process share locks like tabs of one browser.
 */
export function installWebLocks(): void {
  Object.defineProperty(navigator, 'locks', { value: locks, configurable: true })
}

let channels = 0

/** A channel name no other test uses, so wards of different tests never meet. */
export const uniqueChannel = (): string => `sessionward-test-${++channels}`
