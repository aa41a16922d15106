import { describe, expect, it } from 'vitest'
import { DEFAULT_POLICY, resolveOptions, resolvePolicy, type WardOptions } from './options.ts'

describe('resolveOptions', () => {
  it('applies the DESIGN defaults', () => {
    const resolved = resolveOptions()
    expect(resolved).toMatchObject({
      warnAfter: 840,
      expireAfter: 900,
      maxAge: 43_200,
      maxSessions: 0,
      onLimit: 'evict-oldest',
      userAgentBinding: 'browser',
      touchInterval: 60,
      logLimit: 20,
      cookie: { name: '__Host-sessionward', secure: true },
    })
  })

  const invalid: Array<[string, WardOptions, RegExp]> = [
    [
      'warnAfter equal to expireAfter',
      { warnAfter: 900, expireAfter: 900 },
      /warnAfter \(900\) must be less than expireAfter \(900\)/,
    ],
    [
      'warnAfter above expireAfter',
      { warnAfter: 100, expireAfter: 60 },
      /warnAfter \(100\) must be less than/,
    ],
    [
      'a negative warnAfter',
      { warnAfter: -1 },
      /warnAfter must be a finite number of seconds >= 0, got -1/,
    ],
    [
      'a string expireAfter',
      { expireAfter: '900' as never },
      /expireAfter must be a finite number/,
    ],
    ['NaN maxAge', { maxAge: Number.NaN }, /maxAge must be a finite number/],
    ['a fractional maxSessions', { maxSessions: 1.5 }, /maxSessions must be a whole number >= 0/],
    [
      'an unknown onLimit',
      { onLimit: 'kick' as never },
      /onLimit must be one of 'evict-oldest', 'deny'/,
    ],
    [
      'an unknown userAgentBinding',
      { userAgentBinding: 'loose' as never },
      /userAgentBinding must be one of 'strict', 'browser', 'off', got "loose"/,
    ],
    [
      'a touchInterval as long as expireAfter',
      { touchInterval: 900 },
      /touchInterval \(900\) must be less than expireAfter/,
    ],
    ['a negative logLimit', { logLimit: -1 }, /logLimit must be a whole number >= 0/],
    ['passive paths without a slash', { passive: ['api/poll'] }, /passive must be a list of paths/],
    [
      'a __Host- cookie without Secure',
      { cookie: { secure: false } },
      /cookie.secure must be true for a __Host- cookie/,
    ],
    [
      'a cookie name with a space',
      { cookie: { name: 'my cookie' } },
      /cookie.name must be a valid cookie name/,
    ],
    [
      'a trusted origin that is not a URL',
      { trustedOrigins: ['example.com'] },
      /trustedOrigins must be a list of origins/,
    ],
    [
      'a hook that is not a function',
      { hooks: { onSessionEnd: 'log' as never } },
      /hooks.onSessionEnd must be a function/,
    ],
    ['a policy that is not a function', { policy: {} as never }, /policy must be a function/],
  ]
  it.each(invalid)('refuses %s with a message naming the option', (_name, options, message) => {
    expect(() => resolveOptions(options)).toThrow(message)
    expect(() => resolveOptions(options)).toThrow(/^sessionward: /)
  })

  it('matches passive paths exactly or by a trailing-* prefix', () => {
    const { isPassive } = resolveOptions({ passive: ['/api/poll', '/api/live/*'] })
    const at = (path: string) => isPassive({ req: { path } } as never)
    expect([at('/api/poll'), at('/api/poll/x'), at('/api/live/feed'), at('/api/me')]).toEqual([
      true,
      false,
      true,
      false,
    ])
  })

  it('keeps logLimit null (keep every ended session)', () => {
    expect(resolveOptions({ logLimit: null }).logLimit).toBeNull()
  })
})

describe('resolvePolicy', () => {
  it('validates per-user overrides against the base and names where they came from', () => {
    expect(resolvePolicy({ expireAfter: 300, warnAfter: 240 }, DEFAULT_POLICY)).toMatchObject({
      warnAfter: 240,
      expireAfter: 300,
      maxAge: 43_200,
    })
    expect(() => resolvePolicy({ expireAfter: 300 }, DEFAULT_POLICY, 'policy("admin")')).toThrow(
      /policy\("admin"\).warnAfter \(840\) must be less than expireAfter \(300\)/,
    )
  })
})
