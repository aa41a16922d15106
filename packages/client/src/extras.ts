/**
 * What a ward loads only when it needs it: the reading of a `new-device` event (and, through it,
 * the notice) and the screen-lock watch. A chunk of its own in the npm build; in the script-tag
 * build, `dist/sessionward.iife.extras.js`, one ES module served next to the bundle
 * (vite.config.ts, extras-loader.iife.ts).
 */
export { heard } from './new-device.ts'
export { askPermission, watchScreenLock } from './screen-lock.ts'
