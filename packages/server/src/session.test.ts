import { describe, expect, it } from 'vitest'
import { toSessionInfo } from './session.ts'

const NOW = Date.parse('2026-11-23T12:00:00Z')

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
      idp: null,
    })
    expect(info).not.toHaveProperty('tokenHash')
    expect(JSON.stringify(info)).not.toContain('f'.repeat(64))
  })
})
