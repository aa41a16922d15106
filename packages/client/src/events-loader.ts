import type { listenForWard } from './events.ts'

/**
 * The events channel's code (the streamed fetch, the SSE parsing), imported when the leader
 * first opens the channel: an app's bundler makes it a chunk that no page waits for and that
 * followers never fetch. The script-tag build replaces this module with
 * `events-loader.iife.ts` (one file, nothing to fetch).
 * @example
 * const { listenForWard } = await loadEvents()
 */
export const loadEvents = (): Promise<{ listenForWard: typeof listenForWard }> =>
  import('./events.ts')
