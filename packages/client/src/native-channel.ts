/**
 * broadcast-channel's API as far as `tabs.ts` uses it, on the browser's own BroadcastChannel and
 * Web Locks: the script-tag bundle uses this instead of the package (about 1.9 KB gzipped less).
 * Every browser the bundle targets (es2022) has both, so the package's IndexedDB, localStorage
 * and message-based election fallbacks could never be chosen there. The envelope and the lock
 * name are broadcast-channel's own, so a tab on the npm build and one on the script tag still
 * share messages and one election.
 */

import type { ChannelType } from './options.ts'

/** A channel between tabs as `tabs.ts` uses it: the package's or this module's. */
export interface Channel<T> {
  onmessage?: ((data: T) => void) | null
  postMessage(data: T): Promise<void>
  close(): Promise<void>
}

/** broadcast-channel's API as far as `tabs.ts` uses it: the package's or this module's. */
export interface ChannelApi {
  BroadcastChannel: new <T>(name: string, options?: { type: ChannelType }) => Channel<T>
  /** Each API's own channel class (a method's parameter is bivariant: either fits). */
  createLeaderElection<T>(channel: Channel<T>): LeaderElector
}

interface Envelope<T> {
  time: number
  type: string
  data: T
}

/**
 * The envelope's time, in microseconds. The package drops a message older than its listener,
 * with its own clock counting up within a millisecond, so a message from this realm carries the
 * end of its millisecond: one sent after the listener never looks older. (A native channel
 * delivers nothing sent before it opened, so no check is needed on this side.)
 */
const envelopeTime = (): number => Date.now() * 1000 + 999

export class BroadcastChannel<T> {
  readonly name: string
  /** Set by whoever listens (tabs.ts): until then what arrives is dropped. */
  declare onmessage?: ((data: T) => void) | null
  /** Stops the election when the channel closes, as the package does (set by the election). */
  declare onClose?: () => void
  readonly #channel: globalThis.BroadcastChannel

  constructor(name: string) {
    this.name = name
    this.#channel = new globalThis.BroadcastChannel(name)
    this.#channel.onmessage = (event: MessageEvent<Envelope<T>>) => {
      const envelope = event.data
      if (envelope?.type === 'message') this.onmessage?.(envelope.data)
    }
  }

  // Async, as the package's: a failure is a rejection the caller catches (tabs.ts), not a throw.
  async postMessage(data: T): Promise<void> {
    const envelope: Envelope<T> = { time: envelopeTime(), type: 'message', data }
    this.#channel.postMessage(envelope)
  }

  async close(): Promise<void> {
    this.onClose?.()
    this.#channel.close()
  }
}

export interface LeaderElector {
  isLeader: boolean
  awaitLeadership(): Promise<void>
}

/**
 * The tab holding the Web Lock named as broadcast-channel names it leads until its channel
 * closes (or the page goes away: the browser releases the lock). Throws without Web Locks.
 */
export function createLeaderElection<T>(channel: BroadcastChannel<T>): LeaderElector {
  const locks = globalThis.navigator?.locks
  // Caught where the channel opens (tabs.ts): every tab then pings for itself. No message: it
  // is never shown, and the script tag's bytes are counted.
  if (!locks) throw new Error()
  // Closing the channel aborts: a request still waiting fails, a lock held is released.
  const abort = new AbortController()
  const { signal } = abort
  const elector: LeaderElector = {
    isLeader: false,
    awaitLeadership: () =>
      new Promise<void>((resolve, reject) => {
        locks
          .request(`pubkey-bc||native||${channel.name}`, { signal }, () => {
            elector.isLeader = true
            resolve()
            return new Promise((release) => {
              signal.onabort = release
            })
          })
          .catch((error: unknown) => {
            if (!signal.aborted) reject(error)
          })
      }),
  }
  channel.onClose = () => {
    elector.isLeader = false
    abort.abort()
  }
  return elector
}

/** This module as broadcast-channel's API (an object, not a namespace: smaller in the bundle). */
export const NATIVE_API: ChannelApi = { BroadcastChannel, createLeaderElection }
