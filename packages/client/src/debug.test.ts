import { describe, expect, test } from 'vitest'
import { explain } from './debug.ts'
import { type MachineEvent, type MachineState, STOPPED } from './machine.ts'

const now = Date.UTC(2030, 0, 1)
const active: MachineState = { ...STOPPED, status: 'active' }
const warning: MachineState = { ...STOPPED, status: 'warning' }
const expired = (reason: string): MachineState => ({ ...STOPPED, status: 'expired', reason })

describe('the debug line names the new state and its cause', () => {
  test.each<[string, MachineState, MachineEvent, string]>([
    [
      'activity',
      active,
      { type: 'activity', at: now, now, extend: false, remote: true },
      'active (activity)',
    ],
    ['a tab message', warning, { type: 'sync', shared: warning }, 'warning (sync)'],
    [
      'a ping answer, in the seconds the server told',
      warning,
      { type: 'answer', now, sentAt: now, view: { idleFor: 840_000, expiresIn: 3_599_500 } },
      'warning (answer: idle 840 s, expires in 3599.5 s)',
    ],
    [
      'unreachable',
      expired('idle'),
      { type: 'unreachable', now },
      'expired (unreachable; reason idle)',
    ],
    [
      'ended',
      expired('revoked'),
      { type: 'ended', now, reason: 'revoked' },
      'expired (ended; reason revoked)',
    ],
    ['logout', expired('logout'), { type: 'logout', now }, 'expired (logout; reason logout)'],
    ['a timer check', warning, { type: 'check', now, delay: 0 }, 'warning (check)'],
    ['pause', active, { type: 'pause', now, paused: true }, 'active (pause)'],
    ['start', active, { type: 'start', now, warnAfter: 1, expireAfter: 2 }, 'active (start)'],
  ])('%s', (_name, state, event, line) => {
    expect(explain(state, event)).toBe(line)
  })
})
