import { describe, expect, it } from 'vitest'
import { MAX_IDLE_FOR, parseIdleFor, pingAnswer, reconcileLastActivity } from './reconcile.ts'

const NOW = 1_000_000_000

describe('reconcileLastActivity', () => {
  it.each([
    ['client saw more recent activity: it wins', NOW - 100_000, 10, NOW - 10_000],
    ['client is older: the server is not rewound', NOW - 10_000, 100, NOW - 10_000],
    ['both agree', NOW - 30_000, 30, NOW - 30_000],
    ['client reports no idle at all', NOW - 60_000, 0, NOW],
    ['server activity in the future (clock step): capped at now', NOW + 5_000, 10, NOW],
  ])('%s', (_name, serverLastActivity, idleFor, expected) => {
    expect(reconcileLastActivity(serverLastActivity, NOW, idleFor)).toBe(expected)
  })
})

describe('pingAnswer', () => {
  it('answers whole seconds of idle and of time left, never negative', () => {
    const policy = { warnAfter: 840, expireAfter: 900 }
    expect(pingAnswer(NOW - 12_500, NOW + 3_600_900, NOW, policy)).toEqual({
      idleFor: 12,
      warnAfter: 840,
      expireAfter: 900,
      expiresIn: 3600,
    })
    expect(pingAnswer(NOW + 1000, NOW - 1000, NOW, policy)).toMatchObject({
      idleFor: 0,
      expiresIn: 0,
    })
  })
})

describe('parseIdleFor', () => {
  it.each([
    [{ idleFor: 0 }, 0],
    [{ idleFor: 12.5 }, 12.5],
    [{ idleFor: MAX_IDLE_FOR }, MAX_IDLE_FOR],
  ])('accepts %j', (body, idleFor) => {
    expect(parseIdleFor(body)).toEqual({ idleFor })
  })

  it.each([
    [null],
    [[]],
    ['12'],
    [{}],
    [{ idleFor: '12' }],
    [{ idleFor: -0.001 }],
    [{ idleFor: Number.NaN }],
    [{ idleFor: Number.POSITIVE_INFINITY }],
    [{ idleFor: 1e308 }],
  ])('refuses %j with a message', (body) => {
    const result = parseIdleFor(body)
    expect(result).toHaveProperty('message')
  })
})
