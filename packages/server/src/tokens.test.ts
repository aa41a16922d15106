import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { generateToken, hashToken, isTokenShaped, TOKEN_PREFIX } from './tokens.ts'

describe('tokens', () => {
  it('are swt_ + 43 base64url characters (32 bytes) and never repeat', () => {
    const tokens = new Set(Array.from({ length: 1000 }, generateToken))
    expect(tokens.size).toBe(1000)
    for (const token of tokens) {
      expect(token.startsWith(TOKEN_PREFIX)).toBe(true)
      expect(Buffer.from(token.slice(4), 'base64url')).toHaveLength(32)
      expect(isTokenShaped(token)).toBe(true)
    }
  })

  it('hash to the hex SHA-256 of the whole token', () => {
    const token = generateToken()
    expect(hashToken(token)).toBe(createHash('sha256').update(token).digest('hex'))
    expect(hashToken(token)).toMatch(/^[0-9a-f]{64}$/)
  })

  it.each([
    ['', false],
    ['swt_', false],
    [`swt_${'A'.repeat(42)}`, false],
    [`swt_${'A'.repeat(44)}`, false],
    [`swt_${'A'.repeat(42)}=`, false],
    [`swt_${'A'.repeat(42)}+`, false],
    [`SWT_${'A'.repeat(43)}`, false],
    [`swt_${'A'.repeat(43)}`, true],
  ])('shape of %j is %s', (value, shaped) => {
    expect(isTokenShaped(value)).toBe(shaped)
  })
})
