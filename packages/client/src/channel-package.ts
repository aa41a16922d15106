import type { ChannelApi } from './native-channel.ts'

/**
 * The broadcast-channel package (IndexedDB, localStorage and message-based election fallbacks),
 * imported only where the browser's own BroadcastChannel or Web Locks is missing or another
 * method is asked for: an app's bundler makes it a chunk its users on current browsers never
 * fetch. The script-tag build replaces this module with `channel-package.iife.ts`.
 * @example
 * const { BroadcastChannel } = await loadChannelPackage()
 */
export const loadChannelPackage = (): Promise<ChannelApi> => import('broadcast-channel')
