import { type OpenChannel, openChannel } from './native-channel.ts'

/**
 * The script-tag build's `channel-package.ts`: no package inside, the browser's own channel for
 * every method and every `channelType` (what the npm build would load the package for gets the
 * same channel there, a microtask later all the same). Its es2022 browsers all have
 * BroadcastChannel; where Web Locks is missing (Firefox 93–95) the election throws and every
 * tab pings for itself.
 * @example
 * await channelApi({ channelType: 'idb' }) // native-channel.ts's openChannel
 */
export const channelApi = (_options: unknown): Promise<OpenChannel> => Promise.resolve(openChannel)
