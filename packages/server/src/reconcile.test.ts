import { describe, expect, it } from 'vitest'
import { MAX_IDLE_FOR, parseIdleFor, pingAnswer } from './reconcile.ts'

const NOW = 1_000_000_000

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
