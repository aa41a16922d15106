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
      'local activity',
      active,
      { type: 'activity', at: now, now, extend: false, remote: false },
      'active (activity)',
    ],
    [
      'stay',
      active,
      { type: 'activity', at: now, now, extend: true, remote: false },
      'active (stay)',
    ],
    [
      'activity in another tab',
      active,
      { type: 'activity', at: now, now, extend: true, remote: true },
      'active (activity in another tab)',
    ],
    ['a tab message', warning, { type: 'sync', shared: warning }, 'warning (tab message sync)'],
    [
      'a ping answer',
      warning,
      { type: 'answer', now, sentAt: now, view: { idleFor: 840_400, expiresIn: 3_600_000 } },
      'warning (ping answer: idle 840 s, absolute end in 3600 s)',
    ],
    [
      'a ping answer without idleFor',
      active,
      { type: 'answer', now, sentAt: now, view: {} },
      'active (ping answer: idle ?)',
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
      'expired (ended by the server; reason revoked)',
    ],
    [
      'a pushed end',
      expired('admin'),
      { type: 'ended', now, reason: 'admin', pushed: true },
      'expired (pushed end; reason admin)',
    ],
    ['logout', expired('logout'), { type: 'logout', now }, 'expired (logout; reason logout)'],
    ['a timer check', warning, { type: 'check', now, delay: 0 }, 'warning (timer check)'],
    ['pause', active, { type: 'pause', now, paused: true }, 'active (pause)'],
    ['resume', active, { type: 'pause', now, paused: false }, 'active (resume)'],
    ['start', active, { type: 'start', now, warnAfter: 1, expireAfter: 2 }, 'active (start)'],
  ])('%s', (_name, state, event, line) => {
    expect(explain(state, event)).toBe(line)
  })
})
