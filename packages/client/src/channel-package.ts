import { type ChannelApi, NATIVE_API } from './native-channel.ts'
import type { ChannelType } from './options.ts'

/**
 * The broadcast-channel package (IndexedDB, localStorage and message-based election fallbacks),
 * imported only where the browser's own BroadcastChannel or Web Locks is missing or another
 * method is asked for: an app's bundler makes it a chunk its users on current browsers never
 * fetch. The script-tag build replaces this module with `channel-package.iife.ts`.
 * @example
 * const { BroadcastChannel } = await loadChannelPackage()
 */
export const loadChannelPackage = (): Promise<ChannelApi> => import('broadcast-channel')

/**
 * The browser's own BroadcastChannel and Web Locks where it has both and no other method is
 * asked for (every current engine); the broadcast-channel package, with its IndexedDB,
 * localStorage and message-based election fallbacks, only elsewhere, loaded then: an app
 * bundles it as a chunk its users on current browsers never fetch.
 * @example
 * channelApi({ channelType: null }) // native-channel.ts in a current browser, a promise of the package elsewhere
 */
export function channelApi({
  channelType: type,
}: {
  channelType?: ChannelType | null
}): ChannelApi | Promise<ChannelApi> {
  const nativeWorks =
    typeof globalThis.BroadcastChannel === 'function' && !!globalThis.navigator?.locks
  return (!type || type === 'native') && nativeWorks ? NATIVE_API : loadChannelPackage()
}
