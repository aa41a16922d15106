import { listenForWard } from './events.ts'

/**
 * The script-tag build's `events-loader.ts`: the events channel is inside the one file (an
 * IIFE has no chunks), so loading it is a resolved promise.
 * @example
 * const { listenForWard } = await loadEvents()
 */
export const loadEvents = async (): Promise<{ listenForWard: typeof listenForWard }> => ({
  listenForWard,
})
