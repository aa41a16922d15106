import { describe, expect, it } from 'vitest'
import { WardOptionsError } from './errors.ts'
import {
  activityWriteInterval,
  DEFAULT_POLICY,
  resolveOptions,
  resolvePolicy,
  type WardOptions,
} from './options.ts'
import { createWard } from './ward.ts'

const SECRET = 'a-test-secret-of-at-least-32-bytes!!'

function catchError(run: () => unknown): Error {
  try {
    run()
  } catch (error) {
    return error as Error
  }
  throw new Error('expected an error')
}

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
      /userAgentBinding must be one of 'strict', 'browser', 'off', got the string "loose"/,
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
    [
      'a storeTimeout of 0 (no bound)',
      { storeTimeout: 0 },
      /storeTimeout must be a number of seconds > 0 and at most 2147483, got 0/,
    ],
    [
      'a storeTimeout past what a timer can wait',
      { storeTimeout: 3e6 },
      /storeTimeout must be a number of seconds > 0 and at most 2147483/,
    ],
    [
      'a storeTimeout given as a string',
      { storeTimeout: '5' as never },
      /storeTimeout must be a number of seconds > 0 and at most 2147483, got the string "5"/,
    ],
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

describe('unknown option keys', () => {
  it('createWard refuses a misspelt option and suggests the right one', async () => {
    const misspelt = { expireAfer: 60 } as WardOptions
    await expect(createWard(misspelt)).rejects.toThrow(WardOptionsError)
    await expect(createWard(misspelt)).rejects.toThrow(
      'sessionward: unknown option "expireAfer" — did you mean "expireAfter"?',
    )
  })

  it('suggests through a swapped pair of letters and a different case', () => {
    expect(() => resolveOptions({ touchIntreval: 30 } as WardOptions)).toThrow(
      /unknown option "touchIntreval" — did you mean "touchInterval"\?/,
    )
    expect(() => resolveOptions({ CacheTTL: 1 } as WardOptions)).toThrow(
      /unknown option "CacheTTL" — did you mean "cacheTtl"\?/,
    )
  })

  it('lists the known options when no name is close', () => {
    const error = catchError(() => resolveOptions({ memcached: 'localhost:11211' } as WardOptions))
    expect(error).toBeInstanceOf(WardOptionsError)
    expect(error.message).toMatch(/^sessionward: unknown option "memcached" \(known: database, /)
    expect(error.message).not.toMatch(/did you mean/)
  })

  it.each<[string, WardOptions, string]>([
    [
      'cookie',
      { cookie: { secur: true } as never },
      'cookie: unknown option "secur" — did you mean "secure"?',
    ],
    [
      'hooks',
      { hooks: { onSessionEnded: () => {} } as never },
      'hooks: unknown option "onSessionEnded" — did you mean "onSessionEnd"?',
    ],
    [
      'jwt',
      { jwt: { secret: SECRET, accesTtl: 60 } as never },
      'jwt: unknown option "accesTtl" — did you mean "accessTtl"?',
    ],
    [
      'a jwt verification key',
      {
        jwt: {
          secret: SECRET,
          kid: 'a',
          verificationKeys: [{ kid: 'b', secrett: SECRET }],
        } as never,
      },
      'jwt.verificationKeys[0]: unknown option "secrett" — did you mean "secret"?',
    ],
  ])('names a nested unknown key with its path (%s)', (_name, options, message) => {
    expect(() => resolveOptions(options)).toThrow(`sessionward: ${message}`)
  })
})

describe('option types', () => {
  it('refuses cookie.secure given as the string "false" (read from the environment)', () => {
    expect(() => resolveOptions({ cookie: { name: 'sid', secure: 'false' as never } })).toThrow(
      'sessionward: cookie.secure must be true or false, got the string "false"',
    )
  })

  it.each<[string, WardOptions, string]>([
    [
      'number',
      { cacheSize: '100' as never },
      'cacheSize must be a whole number >= 0, got the string "100"',
    ],
    [
      'number (seconds)',
      { cacheTtl: true as never },
      'cacheTtl must be a finite number of seconds >= 0, got true',
    ],
    [
      'boolean',
      { jwt: { secret: SECRET, rotateOnRefresh: 1 } as never },
      'jwt.rotateOnRefresh must be true or false',
    ],
    [
      'string',
      { cookie: { name: 42 as never } },
      'cookie.name must be a valid cookie name, got 42',
    ],
    [
      'function',
      { clientIp: 'x-forwarded-for' as never },
      'clientIp must be a function (c) => string | undefined, got the string "x-forwarded-for"',
    ],
    [
      'nested function',
      { hooks: { onSessionEnd: 'log' as never } },
      'hooks.onSessionEnd must be a function (session, reason) => void, got the string "log"',
    ],
    [
      'array',
      { trustedOrigins: 'https://app.example.com' as never },
      'trustedOrigins must be a list of origins like "https://app.example.com", got the string "https://app.example.com"',
    ],
    ['object', { hooks: [] as never }, 'hooks must be an object, got an array'],
    [
      'object or false',
      { cookie: true as never },
      'cookie must be false or an object { name, secure }, got true',
    ],
    [
      'number or null',
      { logLimit: 'none' as never },
      'logLimit must be a whole number >= 0 or null, got the string "none"',
    ],
  ])('refuses a wrong %s type, naming the option', (_type, options, message) => {
    expect(() => resolveOptions(options)).toThrow(`sessionward: ${message}`)
  })

  it.each<[string, unknown, string]>([
    [
      'a string',
      'console',
      'logger must be an object with info, warn and error functions, got the string "console"',
    ],
    [
      'without warn',
      { info: () => {}, error: () => {} },
      'logger.warn must be a function (logger needs info, warn and error, like console), got undefined',
    ],
    [
      'with a debug that is not a function',
      { info: () => {}, warn: () => {}, error: () => {}, debug: 'verbose' },
      'logger.debug must be a function when given (it is optional), got the string "verbose"',
    ],
  ])('refuses a logger that is %s', (_name, logger, message) => {
    expect(() => resolveOptions({ logger: logger as never })).toThrow(`sessionward: ${message}`)
  })

  it('accepts a logger with or without the optional debug', () => {
    const bare = { info: () => {}, warn: () => {}, error: () => {} }
    expect(resolveOptions({ logger: bare }).logger).toBe(bare)
    const verbose = { ...bare, debug: () => {} }
    expect(resolveOptions({ logger: verbose }).logger).toBe(verbose)
  })

  it('accepts a logger with more methods than the three it uses (pino, winston)', () => {
    const logger = { ...console, child: () => logger, level: 'info' }
    expect(resolveOptions({ logger }).logger).toBe(logger)
  })

  it('accepts every option WardOptions documents', () => {
    // Required<>: a key added to WardOptions must be added here, and then to the validator table.
    const every: Required<WardOptions> = {
      database: 'validated by openDatabase',
      warnAfter: 60,
      expireAfter: 120,
      maxAge: 3600,
      maxSessions: 3,
      onLimit: 'deny',
      policy: () => ({}),
      passive: ['/api/poll'],
      userAgentBinding: 'strict',
      touchInterval: 10,
      logLimit: null,
      hooks: {
        onSessionStart: () => {},
        onSessionEnd: () => {},
        onNewDevice: () => {},
        onReport: () => {},
      },
      cookie: { name: 'sid', secure: false },
      origin: ['https://app.example.com', 'http://localhost:3000'],
      trustedOrigins: ['https://app.example.com'],
      clientIp: () => undefined,
      cacheSize: 100,
      cacheTtl: 1,
      sweepInterval: 0,
      storeTimeout: 2.5,
      logger: console,
      jwt: { secret: SECRET, accessTtl: 60, issuer: 'me', audience: 'app', rotateOnRefresh: true },
      throttle: {
        tokenGuesses: { points: 5 },
        logins: { perAccount: false, perIp: { duration: 60 } },
      },
      redis: 'redis://127.0.0.1:6379',
      bus: 'postgres',
      identityProviders: [
        {
          issuer: 'https://idp.example',
          audience: 'app',
          jwksUri: 'https://idp.example/jwks',
          resolveSubject: () => null,
        },
      ],
      newDevice: { reportUrl: 'https://app.example/session/report', reportTtl: 600 },
    }
    // One bus at a time: each of the two with everything else.
    const { redis, bus, ...rest } = every
    expect(() => resolveOptions({ ...rest, redis })).not.toThrow()
    expect(resolveOptions({ ...rest, bus }).bus).toBe('postgres')
  })

  it('refuses redis and bus together, and a bus other than postgres', () => {
    expect(() => resolveOptions({ redis: 'redis://127.0.0.1:6379', bus: 'postgres' })).toThrow(
      "sessionward: give either redis or bus: 'postgres', not both: one bus carries the ends between instances",
    )
    expect(() => resolveOptions({ bus: 'redis' as never })).toThrow(
      `sessionward: bus must be 'postgres' (PostgreSQL's LISTEN/NOTIFY; for Redis give the redis option instead), got the string "redis"`,
    )
  })

  it.each<[string, unknown, string]>([
    [
      'an identity provider that is not an object',
      ['https://idp.example'],
      'identityProviders[0] must be an object { issuer, audience, jwksUri? }, got the string "https://idp.example"',
    ],
    [
      'an identity provider without an audience',
      [{ issuer: 'https://idp.example' }],
      'identityProviders[0].audience must be a string of 1 to 255 characters, got undefined',
    ],
    [
      'an identity provider whose issuer is no URL',
      [{ issuer: 'idp.example', audience: 'app' }],
      'identityProviders[0].issuer must be an http(s) URL, got the string "idp.example"',
    ],
    [
      'an identity provider with a misspelt key',
      [{ issuer: 'https://idp.example', audience: 'app', jwksUrl: 'https://idp.example/k' }],
      'identityProviders[0]: unknown option "jwksUrl" — did you mean "jwksUri"?',
    ],
    [
      'an identity provider listed twice',
      [
        { issuer: 'https://idp.example', audience: 'a' },
        { issuer: 'https://idp.example', audience: 'b' },
      ],
      'identityProviders[1].issuer "https://idp.example" is listed twice',
    ],
    [
      'identity providers that are not a list',
      { issuer: 'https://idp.example', audience: 'app' },
      'identityProviders must be a list of { issuer, audience, jwksUri? }, got an object',
    ],
  ])('refuses %s at build time, naming it', (_name, identityProviders, message) => {
    expect(() => resolveOptions({ identityProviders } as WardOptions)).toThrow(
      `sessionward: ${message}`,
    )
  })

  it.each<[string, WardOptions, string]>([
    [
      'an origin with a path',
      { origin: 'https://app.example/app' },
      'origin must be an origin like "https://app.example" (scheme://host[:port], no path), got the string "https://app.example/app" — did you mean "https://app.example"?',
    ],
    [
      'an origin with a trailing slash, in a list',
      { origin: ['https://app.example', 'https://www.app.example/'] },
      'origin[1] must be an origin like "https://app.example" (scheme://host[:port], no path), got the string "https://www.app.example/" — did you mean "https://www.app.example"?',
    ],
    [
      'an origin without a scheme',
      { origin: 'app.example' },
      'origin must be an origin like "https://app.example" (scheme://host[:port], no path), got the string "app.example"',
    ],
    [
      'an origin that is not http(s)',
      { origin: 'ftp://app.example' },
      'origin must be an origin like "https://app.example" (scheme://host[:port], no path), got the string "ftp://app.example"',
    ],
    [
      'an origin in capitals',
      { origin: 'https://App.Example' },
      'origin must be an origin like "https://app.example" (scheme://host[:port], no path), got the string "https://App.Example" — did you mean "https://app.example"?',
    ],
    [
      'an empty list of origins',
      { origin: [] },
      'origin must be the app\'s public origin ("https://app.example") or a non-empty list of them, got an array',
    ],
    [
      'an origin that is not a string',
      { origin: [42] as never },
      'origin[0] must be an origin like "https://app.example" (scheme://host[:port], no path), got 42',
    ],
  ])('refuses %s at build time, saying what an origin looks like', (_name, options, message) => {
    expect(() => resolveOptions(options)).toThrow(`sessionward: ${message}`)
  })

  it('takes origin as one origin or a list, and leaves it unset by default', () => {
    expect(resolveOptions({ origin: 'https://app.example' }).origin).toEqual([
      'https://app.example',
    ])
    expect(resolveOptions({ origin: ['https://a.example', 'http://[::1]:8080'] }).origin).toEqual([
      'https://a.example',
      'http://[::1]:8080',
    ])
    expect(resolveOptions().origin).toBeNull()
  })

  it.each<[string, unknown]>([
    ['a URL of another scheme', 'http://127.0.0.1:6379'],
    ['an object that is not an ioredis client', { host: '127.0.0.1', port: 6379 }],
  ])('refuses a redis option that is %s', (_name, redis) => {
    expect(() => resolveOptions({ redis: redis as never })).toThrow(
      'sessionward: redis must be an ioredis client (new Redis(...)) or a URL like "redis://127.0.0.1:6379"',
    )
  })
})

describe('touchInterval', () => {
  it('defaults to min(60, expireAfter / 4), so a short expireAfter needs no other setting', () => {
    expect(resolveOptions({ warnAfter: 20, expireAfter: 30 }).touchInterval).toBe(7.5)
    expect(resolveOptions({ warnAfter: 200, expireAfter: 240 }).touchInterval).toBe(60)
    expect(resolveOptions().touchInterval).toBe(60)
  })

  it('keeps an explicit value below expireAfter', () => {
    expect(resolveOptions({ expireAfter: 900, touchInterval: 300 }).touchInterval).toBe(300)
    expect(() => resolveOptions({ warnAfter: 20, expireAfter: 30, touchInterval: 30 })).toThrow(
      /touchInterval \(30\) must be less than expireAfter \(30\)/,
    )
  })

  it('a session whose policy shortens expireAfter writes activity at least every quarter of it', () => {
    expect(activityWriteInterval(60, 900)).toBe(60)
    expect(activityWriteInterval(60, 20)).toBe(5)
    expect(activityWriteInterval(300, 3600)).toBe(300)
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

  it('refuses an unknown key in a per-user answer, naming the user', () => {
    expect(() =>
      resolvePolicy({ expireAftr: 300 } as never, DEFAULT_POLICY, 'policy("admin")'),
    ).toThrow(
      'sessionward: policy("admin"): unknown option "expireAftr" — did you mean "expireAfter"?',
    )
    expect(() =>
      resolvePolicy({ cookie: false } as never, DEFAULT_POLICY, 'policy("admin")'),
    ).toThrow(
      'sessionward: policy("admin"): unknown option "cookie" (known: warnAfter, expireAfter, maxAge, maxSessions, onLimit)',
    )
  })
})
