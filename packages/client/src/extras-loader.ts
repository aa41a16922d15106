import type * as Extras from './extras.ts'

/**
 * What runs rarely (the new-device notice's reading, the screen-lock watch), imported the first
 * time a ward needs it: an app's bundler makes it a chunk no page waits for. The script-tag build
 * replaces this module with `extras-loader.iife.ts` (one file fetched next to the bundle).
 * @example
 * const { heard } = await loadExtras()
 */
export const loadExtras = (): Promise<typeof Extras> => import('./extras.ts')
