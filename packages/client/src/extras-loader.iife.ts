import type * as Extras from './extras.ts'
import { besideBundle } from './locale-loader.iife.ts'

/**
 * The script-tag build's `extras-loader.ts`: an IIFE has no chunks, so what runs rarely (the
 * new-device notice, the screen-lock watch) is one ES module next to the bundle
 * (`dist/sessionward.iife.extras.js`), imported from the bundle's own URL:
 * `…/sessionward.js` → `…/sessionward.extras.js`.
 * @example
 * const { heard } = await loadExtras()
 */
export const loadExtras = async (): Promise<typeof Extras> =>
  // async: a bundle with no URL of its own (no `currentScript`) rejects, as a failed fetch does.
  import(/* @vite-ignore */ besideBundle('extras.js'))
