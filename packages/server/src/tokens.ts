import { hash, randomBytes } from 'node:crypto'

/** Every session token starts with this, so secret scanners can recognise a leaked one. */
export const TOKEN_PREFIX = 'swt_'

const TOKEN_BYTES = 32
// 32 bytes in unpadded base64url are 43 characters from [A-Za-z0-9_-].
const TOKEN_SHAPE = /^swt_[A-Za-z0-9_-]{43}$/

/**
 * Creates a new session token: `swt_` + 32 bytes from the CSPRNG, base64url.
 *
 * @example
 * const token = generateToken() // 'swt_Qm9...'
 */
export function generateToken(): string {
  return TOKEN_PREFIX + randomBytes(TOKEN_BYTES).toString('base64url')
}

/**
 * SHA-256 of a token, hex. Only this is stored: a database leak yields no usable token, and
 * 256 bits of CSPRNG input make a slow hash unnecessary. Lookups go by this digest, never by
 * comparing secrets byte by byte, so there is no secret-dependent comparison to time.
 *
 * @example
 * const tokenHash = hashToken(token)
 */
export function hashToken(token: string): string {
  return hash('sha256', token, 'hex')
}

/**
 * Whether a string has the exact shape of a session token. Checked before any lookup so
 * garbage never reaches the cache or the database.
 *
 * @example
 * isTokenShaped('swt_abc') // false
 */
export function isTokenShaped(value: string): boolean {
  return TOKEN_SHAPE.test(value)
}
