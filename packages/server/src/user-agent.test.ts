import { describe, expect, it } from 'vitest'
import { CHROME_120, CHROME_121, FIREFOX_120 } from './test-support/app.ts'
import { parseUserAgent, userAgentMatches } from './user-agent.ts'

const CHROME_MAC =
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36'
const CHROME_ANDROID =
  'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36'

describe('parseUserAgent', () => {
  it('names browser, OS and device type (desktop when the parser names none)', () => {
    expect(parseUserAgent(CHROME_120)).toEqual({
      raw: CHROME_120,
      browser: 'Chrome',
      os: 'Windows',
      device: 'desktop',
    })
    expect(parseUserAgent(CHROME_ANDROID)).toMatchObject({ os: 'Android', device: 'mobile' })
    expect(parseUserAgent('')).toEqual({ raw: '', browser: null, os: null, device: 'desktop' })
  })
})

describe('userAgentMatches', () => {
  it.each([
    ['browser', CHROME_120, CHROME_120, true],
    ['browser', CHROME_120, CHROME_121, true],
    ['browser', CHROME_120, FIREFOX_120, false],
    ['browser', CHROME_120, CHROME_MAC, false],
    ['browser', CHROME_120, CHROME_ANDROID, false],
    ['strict', CHROME_120, CHROME_120, true],
    ['strict', CHROME_120, CHROME_121, false],
    ['off', CHROME_120, FIREFOX_120, true],
  ] as const)('%s: %s -> %s is %s', (binding, stored, current, matches) => {
    expect(userAgentMatches(stored, current, binding)).toBe(matches)
  })
})
