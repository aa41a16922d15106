import type { MachineEvent } from './machine.ts'
import type { ResolvedOptions } from './options.ts'
import { joinTabs, type Tabs } from './tabs.ts'

/**
 * Joins the app's channel between tabs for one run of the ward (again after the tab was
 * frozen: joining says hello, so the others tell it what it missed). What the machine shares
 * goes out by `post` (the `share` effect) and `leave` leaves (the `close` effect, `stop()`, a
 * freeze: which hands the election to another tab). Another tab's message reaches the machine
 * (`deliver`) as an event: it happened there (`remote`), and this tab's election decides whether
 * it answers a `hello` as the leader. `bye` only tells the roster (tabs.ts) who is left.
 * `onLeader` runs when this tab becomes the leader.
 * @example
 * const tabs = joinChannel(options, apply, () => visibility())
 * tabs.post({ type: 'pinged', at: Date.now() })
 */
export function joinChannel(
  options: ResolvedOptions,
  deliver: (event: MachineEvent) => void,
  onLeader: () => void,
): Tabs {
  const tabs = joinTabs({
    ...options,
    onMessage: (message) => {
      if (message.type === 'bye') return
      const heard = { ...message, now: Date.now(), remote: true, leader: tabs.elected() }
      deliver(heard)
    },
    onLeader,
  })
  return tabs
}
