import { type ChannelApi, NATIVE_API } from './native-channel.ts'

/**
 * The script-tag build's `channel-package.ts`: no package inside, the browser's own channel for
 * every method. Its es2022 browsers all have BroadcastChannel; where Web Locks is missing
 * (Firefox 93–95) the election throws and every tab pings for itself.
 * @example
 * const { BroadcastChannel } = await loadChannelPackage()
 */
export const loadChannelPackage = async (): Promise<ChannelApi> => NATIVE_API
