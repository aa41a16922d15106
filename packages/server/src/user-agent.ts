import UAParser from 'ua-parser-js'
import type { UserAgentBinding } from './vocabulary.ts'

/** A user agent as the devices list shows it. */
export interface ParsedUserAgent {
  raw: string
  browser: string | null
  os: string | null
  device: string
}

/**
 * Parses a user-agent string into browser, OS and device type (`desktop` when the parser
 * names none, as it does for desktops).
 *
 * @example
 * parseUserAgent(ua) // { raw, browser: 'Chrome', os: 'Windows', device: 'desktop' }
 */
export function parseUserAgent(raw: string): ParsedUserAgent {
  const result = new UAParser(raw).getResult()
  return {
    raw,
    browser: result.browser.name ?? null,
    os: result.os.name ?? null,
    device: result.device.type ?? 'desktop',
  }
}

/**
 * Whether a request's user agent still matches the one the session logged in with.
 * `browser` accepts version updates but not another browser, OS or device type; the raw
 * strings are compared first because parsing on every request costs several times the request.
 *
 * @example
 * userAgentMatches(stored, current, 'browser')
 */
export function userAgentMatches(
  stored: string,
  current: string,
  binding: UserAgentBinding,
): boolean {
  if (binding === 'off' || stored === current) return true
  if (binding === 'strict') return false
  const before = parseUserAgent(stored)
  const now = parseUserAgent(current)
  return before.browser === now.browser && before.os === now.os && before.device === now.device
}
