import type { MachineEvent, MachineState } from './machine.ts'

const seconds = (ms: number): string => `${Math.round(ms / 1000)} s`

/**
 * The `debug` option's account of a state change: the new status and the event that caused it.
 * @example
 * explain(warningState, { type: 'answer', now, sentAt, view: { idleFor: 840_000 } })
 * // 'warning (ping answer: idle 840 s)'
 */
export function explain(s: MachineState, e: MachineEvent): string {
  let cause: string = e.type
  if (e.type === 'activity') {
    // Another tab's message does not tell a stay from activity that dismissed its warning.
    cause = e.remote ? 'activity in another tab' : e.extend ? 'stay' : 'activity'
  } else if (e.type === 'sync') cause = 'tab message sync'
  else if (e.type === 'check') cause = 'timer check'
  else if (e.type === 'pause') cause = e.paused ? 'pause' : 'resume'
  else if (e.type === 'ended') cause = e.pushed ? 'pushed end' : 'ended by the server'
  else if (e.type === 'answer') {
    const { idleFor, expiresIn } = e.view
    cause = `ping answer: idle ${idleFor === undefined ? '?' : seconds(idleFor)}`
    if (expiresIn !== undefined) cause += `, absolute end in ${seconds(expiresIn)}`
  }
  return `${s.status} (${cause}${s.status === 'expired' ? `; reason ${s.reason}` : ''})`
}
