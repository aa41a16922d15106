import type { NewDeviceNotice } from './known-device.ts'
import type { EndReason, SessionPolicy } from './vocabulary.ts'

/** One open `/session/events` stream, told what happens to its session. */
export interface SessionWatcher {
  ended(reason: EndReason): void
  policyChanged(policy: SessionPolicy): void
  /** Another session of the user signed in from a new device. */
  newDevice(notice: NewDeviceNotice): void
  /** The ward is closing: end the stream without a reason. */
  closed(): void
}

// One stream per browser is the design (the leader tab holds it); a few more cover tabs that
// briefly both think they lead. Past this, the oldest stream of the session is closed.
const WATCHERS_PER_SESSION = 4

/**
 * The open event streams of this instance, by session id. Whoever learns that a session ended
 * (here or on another instance, through Redis) tells it here, and every stream of that session
 * hears it once.
 *
 * @example
 * const unwatch = watchers.watch(session.id, { ended, policyChanged, closed })
 * watchers.ended(session.id, 'admin')
 */
export class SessionWatchers {
  readonly #bySession = new Map<string, Set<SessionWatcher>>()

  /** Registers a stream; returns the function that unregisters it. */
  watch(sessionId: string, watcher: SessionWatcher): () => void {
    const watchers = this.#bySession.get(sessionId) ?? new Set()
    this.#bySession.set(sessionId, watchers)
    watchers.add(watcher)
    if (watchers.size > WATCHERS_PER_SESSION) {
      const oldest = watchers.values().next().value as SessionWatcher
      watchers.delete(oldest)
      oldest.closed()
    }
    return () => {
      watchers.delete(watcher)
      if (watchers.size === 0 && this.#bySession.get(sessionId) === watchers) {
        this.#bySession.delete(sessionId)
      }
    }
  }

  /** Tells every stream of the session that it ended, and forgets them. */
  ended(sessionId: string, reason: EndReason): void {
    const watchers = this.#bySession.get(sessionId)
    if (!watchers) return
    this.#bySession.delete(sessionId)
    for (const watcher of watchers) watcher.ended(reason)
  }

  /** Tells every stream of the session its new thresholds. */
  policyChanged(sessionId: string, policy: SessionPolicy): void {
    for (const watcher of this.#bySession.get(sessionId) ?? []) watcher.policyChanged(policy)
  }

  /** Tells every stream of the sessions the notice names (this instance's) of a new device. */
  newDevice(notice: NewDeviceNotice): void {
    for (const sessionId of notice.toSessionIds) {
      for (const watcher of this.#bySession.get(sessionId) ?? []) watcher.newDevice(notice)
    }
  }

  /** Ends every stream (the ward is closing). */
  closeAll(): void {
    const all = [...this.#bySession.values()]
    this.#bySession.clear()
    for (const watchers of all) for (const watcher of watchers) watcher.closed()
  }
}
