import { describe, expect, it } from 'vitest'
import { expiryReason, toSessionInfo } from './session.ts'

const NOW = Date.parse('2026-11-23T12:00:00Z')
const policy = { expireAfter: 900, maxAge: 43_200 }

describe('expiryReason', () => {
  it.each([
    ['active and within maxAge', 899, 3600, null],
    ['idle exactly expireAfter', 900, 3600, 'idle'],
    ['past maxAge while active', 0, 0, 'absolute'],
    ['idle and past maxAge: absolute wins', 5000, -1, 'absolute'],
  ])('%s', (_name, idleSeconds, secondsLeft, reason) => {
    const record = {
      createdAt: new Date(NOW - 3600_000),
      lastActivityAt: new Date(NOW - idleSeconds * 1000),
      expiresAt: new Date(NOW + secondsLeft * 1000),
    }
    expect(expiryReason(record, NOW, policy)).toBe(reason)
  })
})

it('a maxAge shortened after login ends the session at createdAt + maxAge', () => {
  const record = {
    createdAt: new Date(NOW - 3600_000),
    lastActivityAt: new Date(NOW),
    expiresAt: new Date(NOW + 3600_000),
  }
  expect(expiryReason(record, NOW, { expireAfter: 900, maxAge: 3600 })).toBe('absolute')
  expect(expiryReason(record, NOW, { expireAfter: 900, maxAge: 7200 })).toBeNull()
  expect(expiryReason(record, NOW + 3600_000, { expireAfter: 900, maxAge: 99_999 })).toBe(
    'absolute',
  )
})

describe('toSessionInfo', () => {
  it('drops the token hash', () => {
    const info = toSessionInfo({
      id: 'id',
      userId: 'alice',
      tokenHash: 'f'.repeat(64),
      createdAt: new Date(NOW),
      lastActivityAt: new Date(NOW),
      expiresAt: new Date(NOW),
      endedAt: null,
      endReason: null,
      ip: null,
      lastIp: null,
      userAgent: '',
      detail: null,
    })
    expect(info).not.toHaveProperty('tokenHash')
    expect(JSON.stringify(info)).not.toContain('f'.repeat(64))
  })
})
