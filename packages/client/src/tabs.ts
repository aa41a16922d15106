import { channelApi } from './channel-package.ts'
import { FOLLOWER_GRACE, type Shared, type ShareMessage, type Status } from './machine.ts'
import type { OpenChannel, TabChannel } from './native-channel.ts'
import { type ChannelType, isObject, isTime } from './options.ts'

/** A message between tabs: what the ward shares, and the roster's own `hello` and `bye`. */
export type TabMessage = ShareMessage | { type: 'hello' } | { type: 'bye' }

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
  /** Leaves the channel, which hands the election to another tab. */
  leave(): void
}

/** The options' channel (the app's `channelName` and `channelType`) and what this tab hears. */
export interface TabsOptions {
  channelName: string
  channelType?: ChannelType | null
  onMessage(message: TabMessage): void
  /** Called when this tab becomes the leader. */
  onLeader(): void
}

export { channelApi } from './channel-package.ts'
export { FOLLOWER_GRACE }

const STATUSES: readonly Status[] = ['stopped', 'active', 'warning', 'expired']

function isShared(value: unknown): value is Shared {
  return (
    isObject(value) &&
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
      // None (null) passes as 0.
      value.absoluteEnd === null ? 0 : value.absoluteEnd,
    ].every(isTime)
  )
}

/**
 * Accepts only well-formed messages: another tab may run another version of the SDK.
 * @example
 * readMessage({ from: 'a1', type: 'pinged', at: 1700000000000 }) // the envelope
 * readMessage({ type: 'pinged' }) // null
 */
export function readMessage(data: unknown): Envelope | null {
  if (!isObject(data) || typeof data.from !== 'string') return null
  const valid =
    data.type === 'hello' ||
    data.type === 'bye' ||
    data.type === 'unconfirmed' ||
    // Its data is read where it is shown (new-device.ts), as the events channel's is.
    data.type === 'new-device' ||
    (data.type === 'pinged' && isTime(data.at)) ||
    (data.type === 'visibility' && typeof data.hidden === 'boolean') ||
    (data.type === 'activity' && isTime(data.at) && typeof data.extend === 'boolean') ||
    (data.type === 'sync' && isShared(data.shared))
  return valid ? (data as Envelope) : null
}

/**
 * Joins the app's channel: shares messages between tabs and elects the one tab that pings.
 * The channel opens a microtask later, or once the package has loaded where it is needed:
 * until then messages wait and the tab follows.
 * @example
 * const tabs = joinTabs({ channelName: 'sessionward', onMessage: console.log, onLeader() {} })
 * tabs.post({ type: 'activity', at: Date.now(), extend: false })
 */
export function joinTabs(options: TabsOptions): Tabs {
  const id = Math.random().toString(36).slice(2)
  const peers = new Set<string>()
  let closed = false
  let channel: TabChannel<Envelope> | null = null
  /** Whether this tab leads the election; null until one is held, and where none can be. */
  let leading: (() => boolean) | null = null
  /** No channel could be opened, or no election held: this tab pings for itself. */
  let alone = false

  /**
   * Opens the channel and the election, always a microtask after joining (the package may have
   * to load first): the ward already runs with this tab as a follower, and hears of it
   * (`onLeader`) when this tab turns out to lead alone. `loaded`: the channel's opener, or the
   * error of a package that could not be loaded.
   */
  function open(loaded: unknown): void {
    if (closed) return
    try {
      // An error is no opener: it throws here, as a channel that cannot open does.
      channel = (loaded as OpenChannel)<Envelope>(options, (data) => {
        const message = readMessage(data)
        if (closed || message === null) return
        if (message.type === 'bye') peers.delete(message.from)
        else peers.add(message.from)
        const { from: _from, ...rest } = message
        options.onMessage(rest as TabMessage)
      })
      leading = channel.elect(() => {
        if (!closed) options.onLeader()
      })
    } catch {
      // No channel (this tab works alone, as its own leader), or no election (e.g. a broken Web
      // Locks API): every tab pings for itself.
      alone = true
      options.onLeader()
    }
  }

  /** Settles once the channel is open (or cannot be): what is posted waits for it. */
  const opened = channelApi(options).then(open, open)
  const leads = (): boolean => alone || !!leading?.()
  const post = (message: TabMessage): void => {
    if (closed) return
    const envelope = { ...message, from: id }
    opened.then(() => channel?.post(envelope))
  }
  post({ type: 'hello' })
  return {
    post,
    isLeader: leads,
    elected: () => !closed && !!leading?.(),
    delay() {
      if (leads()) return 0
      let rank = 0
      for (const peer of peers) if (peer < id) rank++
      return FOLLOWER_GRACE * (1 + rank)
    },
    leave() {
      if (closed) return
      post({ type: 'bye' })
      closed = true
      // Closing also ends the election, which hands leadership to another tab.
      opened.then(() => channel?.leave())
    },
  }
}
