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
  return generateSecret(TOKEN_PREFIX)
}

/** Every device id the ward's device cookie carries starts with this. */
export const DEVICE_PREFIX = 'swd_'
/** Every new-device report link's token starts with this. */
export const REPORT_PREFIX = 'swr_'
const DEVICE_SHAPE = /^swd_[A-Za-z0-9_-]{43}$/
const REPORT_SHAPE = /^swr_[A-Za-z0-9_-]{43}$/

/**
 * A secret like a session token under another prefix (a device id, a report link's token):
 * 32 bytes from the CSPRNG, base64url; only its `hashToken` is stored.
 *
 * @example
 * generateSecret(DEVICE_PREFIX) // 'swd_Qm9...'
 */
export function generateSecret(prefix: string): string {
  return prefix + randomBytes(TOKEN_BYTES).toString('base64url')
}

/**
 * Whether a string has the exact shape of a device id the ward made (its cookie's value).
 *
 * @example
 * isDeviceIdShaped('swd_abc') // false
 */
export function isDeviceIdShaped(value: string): boolean {
  return DEVICE_SHAPE.test(value)
}

/**
 * Whether a string has the exact shape of a report link's token.
 *
 * @example
 * isReportTokenShaped('swr_abc') // false
 */
export function isReportTokenShaped(value: string): boolean {
  return REPORT_SHAPE.test(value)
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
