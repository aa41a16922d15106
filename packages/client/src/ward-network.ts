import { loadEvents } from './events-loader.ts'
import type { Effect, MachineEvent } from './machine.ts'
import type { ResolvedOptions } from './options.ts'
import { connect } from './server.ts'

/**
 * The ward's requests and its events channel, each outcome told as an event of the machine. Each
 * method performs the machine's effect of its name: the ward hands it any effect it has one for.
 */
export interface Network {
  /** The `ping` effect, sent at `sentAt` (`lastPingAt`). */
  ping(effect: Extract<Effect, { type: 'ping' }>, sentAt: number): void
  /** The `logout` effect: one logout request; its answer is a `loggedOut` event. */
  logout(): void
  /** The `listen` effect: opens the events channel. */
  listen(): void
  /** The `unlisten` effect, and the end of a run: closes it. */
  unlisten(): void
}

/**
 * The network side of one run of the ward. `deliver` hands each outcome to the machine (the ward
 * drops it once this run is over). The events channel's code (the streamed fetch, the SSE
 * parsing) is a chunk of its own, loaded when the leader first opens the channel: no page waits
 * for it, and followers never load it. A chunk that cannot load is a channel that failed: pings
 * go on. A `new-device` event's data goes to the machine unread (its reading loads lazily).
 * @example
 * const network = createNetwork(options, apply)
 * network.ping({ type: 'ping', idleFor: 0 }, Date.now())
 */
export function createNetwork(
  options: ResolvedOptions,
  deliver: (event: MachineEvent) => void,
): Network {
  const fetcher = options.fetch ?? ((url, init) => fetch(url, init))
  const server = connect({ ...options, fetch: fetcher })
  let unlisten = (): void => {}

  return {
    async ping(effect, sentAt) {
      const outcome = await server.ping(effect.idleFor)
      // Every outcome carries when its ping went out (`sentAt`): the machine reads it on an
      // answer, and the `debug` line shows it with the others.
      const event = { ...outcome, now: Date.now(), sentAt }
      deliver(event)
    },
    async logout() {
      // After the end has been announced (the effect is performed before), and each retry alike.
      await undefined
      const done = await server.logout()
      deliver({ type: 'loggedOut', now: Date.now(), done })
    },
    listen() {
      unlisten()
      let closed = false
      let stop = (): void => {}
      unlisten = () => {
        closed = true
        stop()
      }
      // Once closed, the channel tells nothing more (events.ts): only its loading is guarded.
      loadEvents().then(
        (events) => {
          if (!closed) stop = events.listenForWard(options, fetcher, deliver)
        },
        () => closed || deliver({ type: 'lost', now: Date.now() }),
      )
    },
    unlisten: () => unlisten(),
  }
}
