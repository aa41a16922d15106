import { type OpenChannel, openChannel } from './native-channel.ts'
import type { ChannelType } from './options.ts'

/**
 * The browser's own BroadcastChannel and Web Locks where it has both and no other method is
 * asked for (every current engine); the broadcast-channel package, with its IndexedDB,
 * localStorage and message-based election fallbacks, only elsewhere, loaded then
 * (`package-channel.ts`, a dynamic import): an app bundles it as a chunk its users on current
 * browsers never fetch. A promise either way: the channel opens a microtask after joining. The
 * script-tag build replaces this module with `channel-package.iife.ts`.
 * @example
 * await channelApi({ channelType: null }) // native-channel.ts's opener in a current browser, the package's elsewhere
 */
export async function channelApi({
  channelType: type,
}: {
  channelType?: ChannelType | null
}): Promise<OpenChannel> {
  // Asked for once a browser window runs the ward (start()): `window` and `navigator` are there.
  return (!type || type === 'native') && window.BroadcastChannel && navigator.locks
    ? openChannel
    : (await import('./package-channel.ts')).openChannel
}
