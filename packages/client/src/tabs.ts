import { BroadcastChannel, createLeaderElection, type LeaderElector } from 'broadcast-channel'
import type { Shared, ShareMessage, Status } from './machine.ts'
import type { ChannelType } from './options.ts'

/**
 * A message between tabs: what the ward shares, the roster's own `hello` and `bye`, and
 * `unconfirmed`: the logout request that ends the session did not get through (yet).
 */
export type TabMessage =
  | ShareMessage
  | { type: 'hello' }
  | { type: 'bye' }
  | { type: 'unconfirmed' }

type Envelope = TabMessage & { from: string }

export interface Tabs {
  /** Tells every other tab of this app. */
  post(message: TabMessage): void
  /** True while this tab is the one that pings. */
  isLeader(): boolean
  /**
   * True while this tab won the election. False where no election is possible (then every tab
   * pings for itself, and none holds the events channel: one stream per tab could take all of
   * HTTP/1.1's six connections per origin).
   */
  elected(): boolean
  /**
   * How long this tab, as a follower, waits past a deadline for the leader's ping before it
   * pings itself. Each follower waits a different multiple of FOLLOWER_GRACE (ranked by id), so
   * a frozen leader costs one extra ping, not one per tab.
   */
  delay(): number
  close(): void
}

export interface TabsOptions {
  name: string
  type: ChannelType | null
  onMessage(message: TabMessage): void
  /** Called when this tab becomes the leader. */
  onLeader(): void
}

export const FOLLOWER_GRACE = 2000

const STATUSES: readonly Status[] = ['stopped', 'active', 'warning', 'expired']

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null

const isTime = (value: unknown): value is number =>
  typeof value === 'number' && Number.isFinite(value)

function isShared(value: unknown): value is Shared {
  return (
    isRecord(value) &&
    STATUSES.includes(value.status as Status) &&
    (value.reason === null || typeof value.reason === 'string') &&
    [
      value.changedAt,
      value.lastActivity,
      value.lastPingAt,
      value.syncedAt,
      value.failures,
      value.warnAfter,
      value.expireAfter,
      value.policyAt,
    ].every(isTime) &&
    (value.absoluteEnd === null || isTime(value.absoluteEnd))
  )
}

/**
 * Accepts only well-formed messages: another tab may run another version of the SDK.
 * @example
 * readMessage({ from: 'a1', type: 'pinged', at: 1700000000000 }) // the envelope
 * readMessage({ type: 'pinged' }) // null
 */
export function readMessage(data: unknown): Envelope | null {
  if (!isRecord(data) || typeof data.from !== 'string') return null
  const valid =
    data.type === 'hello' ||
    data.type === 'bye' ||
    data.type === 'unconfirmed' ||
    (data.type === 'pinged' && isTime(data.at)) ||
    (data.type === 'visibility' && typeof data.hidden === 'boolean') ||
    (data.type === 'activity' && isTime(data.at) && typeof data.extend === 'boolean') ||
    (data.type === 'sync' && isShared(data.shared))
  return valid ? (data as Envelope) : null
}

/**
 * Joins the app's channel: shares messages between tabs and elects the one tab that pings.
 * @example
 * const tabs = joinTabs({ name: 'sessionward', type: null, onMessage: console.log, onLeader() {} })
 * tabs.post({ type: 'activity', at: Date.now(), extend: false })
 */
export function joinTabs(options: TabsOptions): Tabs {
  const id = Math.random().toString(36).slice(2)
  const peers = new Set<string>()
  let closed = false
  let channel: BroadcastChannel<Envelope>
  try {
    channel = new BroadcastChannel<Envelope>(
      options.name,
      options.type === null ? undefined : { type: options.type },
    )
  } catch {
    // No way to reach other tabs here: this tab works alone, as its own leader.
    return {
      post: ignore,
      isLeader: () => true,
      elected: () => false,
      delay: () => 0,
      close: ignore,
    }
  }
  channel.onmessage = (data) => {
    const message = readMessage(data)
    if (closed || message === null) return
    if (message.type === 'bye') peers.delete(message.from)
    else peers.add(message.from)
    const { from: _from, ...rest } = message
    options.onMessage(rest as TabMessage)
  }
  let elector: LeaderElector | null = null
  try {
    elector = createLeaderElection(channel)
    elector.awaitLeadership().then(() => {
      if (!closed) options.onLeader()
    }, ignore)
  } catch {
    // No election possible (e.g. a broken Web Locks API): every tab pings for itself.
  }
  const post = (message: TabMessage): void => {
    if (!closed) channel.postMessage({ ...message, from: id }).catch(ignore)
  }
  post({ type: 'hello' })
  return {
    post,
    isLeader: () => elector === null || elector.isLeader,
    elected: () => !closed && elector !== null && elector.isLeader,
    delay() {
      if (elector === null || elector.isLeader) return 0
      let rank = 0
      for (const peer of peers) if (peer < id) rank++
      return FOLLOWER_GRACE * (1 + rank)
    },
    close() {
      if (closed) return
      post({ type: 'bye' })
      closed = true
      // Closing also ends the election, which hands leadership to another tab.
      channel.close().catch(ignore)
    },
  }
}

function ignore(): void {}
