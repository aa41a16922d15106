import { BroadcastChannel, createLeaderElection } from 'broadcast-channel'
import type { OpenChannel } from './native-channel.ts'

const ignore = (): void => {}

/**
 * The channel on the broadcast-channel package (its IndexedDB, localStorage and message-based
 * election fallbacks, and the `simulate` method of the tests): `channel-package.ts` imports this
 * module only where the browser's own channel or Web Locks is missing, or another method is
 * asked for, so an app's bundler makes it a chunk its users on current browsers never fetch.
 * @example
 * const channel = openChannel({ channelName: 'sessionward', channelType: 'simulate' }, console.log)
 */
export const openChannel: OpenChannel = ({ channelName, channelType }, hear) => {
  const channel = new BroadcastChannel(channelName, channelType ? { type: channelType } : undefined)
  channel.onmessage = hear
  return {
    // The package's channel answers with a promise: a failure is a rejection, not a throw.
    post: (data) => void channel.postMessage(data).catch(ignore),
    elect(onLeader) {
      const elector = createLeaderElection(channel)
      elector.awaitLeadership().then(onLeader, ignore)
      return () => elector.isLeader
    },
    // Closing also ends the election, which hands the lead to another tab.
    leave: () => void channel.close().catch(ignore),
  }
}
