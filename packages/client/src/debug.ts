import type { MachineEvent, MachineState } from './machine.ts'

/**
 * The `debug` option's line for a state change: the new status and the event that caused it,
 * by the event's name, a ping answer with the idle time and the time left that the server
 * told, an end with its reason. The ward logs the event itself beside the line, with every
 * detail (`remote: true`: the activity came from another tab; `pushed: true`: the end came on
 * the events channel), so the bundle carries no wording for each.
 * @example
 * explain(warning, { type: 'answer', now, sentAt, view: { idleFor: 840_000, expiresIn: 3_600_000 } })
 * // 'warning (answer: idle 840 s, expires in 3600 s)'
 */
export function explain(s: MachineState, e: MachineEvent): string {
  // The server's own seconds again (it answers whole ones); NaN for what it did not tell
  // (undefined divides to NaN).
  const cause =
    e.type === 'answer'
      ? `answer: idle ${(e.view.idleFor as number) / 1000} s, expires in ${(e.view.expiresIn as number) / 1000} s`
      : e.type
  return `${s.status} (${cause}${s.status === 'expired' ? `; reason ${s.reason}` : ''})`
}
