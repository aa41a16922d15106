/**
 * The channel between tabs and its election on the browser's own BroadcastChannel and Web
 * Locks: every current engine has both, so the npm build loads the broadcast-channel package
 * only where one is missing (`package-channel.ts`), and the script-tag bundle never (about 1.9
 * KB gzipped less). The envelope and the lock name are broadcast-channel's own, so a tab on the
 * package and one on this module still share messages and one election.
 */

import type { ChannelType } from './options.ts'

/** A channel between tabs and its election, as `tabs.ts` uses them: this module's or the package's. */
export interface TabChannel<T> {
  /** Tells every other tab on the channel. */
  post(data: T): void
  /**
   * Enters the election: `onLeader` runs once this tab leads, which it does until it leaves the
   * channel (or the page goes away). Returns whether it leads now. Throws where no election can
   * be held (the channel still carries messages then).
   */
  elect(onLeader: () => void): () => boolean
  /** Leaves the channel and its election, which hands the lead to another tab. */
  leave(): void
}

/**
 * Opens the app's channel (`channelType`: the package's method, where it is the package's);
 * `hear` gets what the other tabs post. Throws where it cannot be opened.
 */
export type OpenChannel = <T>(
  options: { channelName: string; channelType?: ChannelType | null },
  hear: (data: T) => void,
) => TabChannel<T>

/** broadcast-channel's envelope around a message. */
interface Envelope<T> {
  time: number
  type: string
  data: T
}

/**
 * The channel on the browser's own BroadcastChannel and Web Locks. `channelType` is not read:
 * where this module serves, the native method is the one asked for (or, in the script tag, the
 * only one there is). Messages posted before another tab opened never reach it, so no envelope
 * is checked for its age here; the package drops one older than its listener, with its own clock
 * counting up within a millisecond, so the envelope's time (microseconds) is the end of its
 * millisecond: one sent after the listener never looks older.
 * @example
 * const channel = openChannel({ channelName: 'sessionward' }, console.log)
 * const leads = channel.elect(() => console.log('leading'))
 */
export const openChannel: OpenChannel = <T>(
  { channelName }: { channelName: string },
  hear: (data: T) => void,
): TabChannel<T> => {
  const channel = new BroadcastChannel(channelName)
  channel.onmessage = ({ data }: MessageEvent<Envelope<T> | null>) => {
    if (data?.type === 'message') hear(data.data)
  }
  // Leaving aborts: a lock request still waiting fails, a lock held is released.
  const done = new AbortController()
  let leads = false
  return {
    post(data) {
      channel.postMessage({
        time: Date.now() * 1000 + 999,
        type: 'message',
        data,
      } satisfies Envelope<T>)
    },
    elect(onLeader) {
      const { signal } = done
      // Without Web Locks (null or undefined) this throws a TypeError, caught where the channel
      // opens (tabs.ts): every tab then pings for itself.
      navigator.locks
        .request(`pubkey-bc||native||${channelName}`, { signal }, () => {
          leads = true
          onLeader()
          return new Promise((release) => {
            signal.onabort = release
          })
        })
        // Aborted by leaving, or a broken Web Locks API: this tab simply never leads.
        .catch(() => {})
      return () => leads
    },
    leave() {
      leads = false
      done.abort()
      channel.close()
    },
  }
}
