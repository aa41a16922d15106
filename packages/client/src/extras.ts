/**
 * What a ward loads only when it needs it: the reading of a `new-device` event (and, through it,
 * the notice) and the screen-lock watch. A chunk of its own in the npm build; in the script-tag
 * build, `dist/sessionward.iife.extras.js`, one ES module served next to the bundle
 * (vite.config.ts, extras-loader.iife.ts).
 */
import type { MachineEvent } from './machine.ts'
import { watchScreenLock } from './screen-lock.ts'

export { heard } from './new-device.ts'
export { askPermission as requestScreenLockPermission } from './screen-lock.ts'

/**
 * `endOnScreenLock`: a locked screen ends the session in every tab as a server end would (the
 * machine's `ended`, reason `screen_lock`), told to the ward by `apply`. Built here, not in the
 * ward, so the script tag carries only the hook. Returns the function that stops watching.
 * @example
 * const unwatch = endOnScreenLock(options, apply)
 */
export const endOnScreenLock = (
  options: { debug?: boolean },
  apply: (event: MachineEvent) => void,
): (() => void) =>
  watchScreenLock(options, () => apply({ type: 'ended', now: Date.now(), reason: 'screen_lock' }))
