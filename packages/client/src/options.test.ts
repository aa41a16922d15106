import { describe, expect, test } from 'vitest'
import { DEFAULT_TEXTS } from './dialog.ts'
import { resolveOptions, type SessionWardOptions } from './options.ts'

const bad = (options: unknown): SessionWardOptions => options as SessionWardOptions

describe('options', () => {
  test('defaults follow the server (840 s / 900 s) and times become milliseconds', () => {
    const options = resolveOptions({ pingUrl: '/session/ping' })
    expect(options).toMatchObject({
      pingUrl: '/session/ping',
      logoutUrl: null,
      redirectTo: null,
      warnAfter: 840_000,
      expireAfter: 900_000,
      dialog: true,
      channelName: 'sessionward',
      texts: DEFAULT_TEXTS,
    })
  })

  test('texts merge with the defaults', () => {
    const { texts } = resolveOptions({ pingUrl: '/p', texts: { stay: 'Angemeldet bleiben' } })
    expect(texts).toEqual({ ...DEFAULT_TEXTS, stay: 'Angemeldet bleiben' })
  })

  test.each([
    ['no options', undefined, 'options must be an object with at least pingUrl, got undefined'],
    ['missing pingUrl', {}, 'pingUrl must be a non-empty string, got undefined'],
    ['empty pingUrl', { pingUrl: ' ' }, 'pingUrl must be a non-empty string, got " "'],
    [
      'warnAfter equal to expireAfter',
      { pingUrl: '/p', warnAfter: 30, expireAfter: 30 },
      'warnAfter (30s) must be less than expireAfter (30s)',
    ],
    [
      'warnAfter after the default expireAfter',
      { pingUrl: '/p', warnAfter: 1000 },
      'warnAfter (1000s) must be less than expireAfter (900s)',
    ],
    [
      'a number as a string',
      { pingUrl: '/p', warnAfter: '20' },
      'warnAfter must be a positive number of seconds, got "20"',
    ],
    [
      'NaN',
      { pingUrl: '/p', expireAfter: Number.NaN },
      'expireAfter must be a positive number of seconds, got NaN',
    ],
    [
      'Infinity',
      { pingUrl: '/p', expireAfter: Number.POSITIVE_INFINITY },
      'expireAfter must be a positive number of seconds, got Infinity',
    ],
    [
      'zero',
      { pingUrl: '/p', warnAfter: 0 },
      'warnAfter must be a positive number of seconds, got 0',
    ],
    ['a typo', { pingUrl: '/p', warnafter: 20 }, 'unknown option "warnafter"'],
    [
      'a non-function callback',
      { pingUrl: '/p', onWarn: 'alert' },
      'onWarn must be a function, got "alert"',
    ],
    [
      'dialog as a string',
      { pingUrl: '/p', dialog: 'no' },
      'dialog must be true or false, got "no"',
    ],
    [
      'headers as a string',
      { pingUrl: '/p', headers: 'x' },
      'headers must be an object or a function, got "x"',
    ],
    [
      'an unknown text',
      { pingUrl: '/p', texts: { titel: 'x' } },
      'unknown text "titel"; known: title, message, stay, logout',
    ],
    [
      'a text that is no string',
      { pingUrl: '/p', texts: { stay: 1 } },
      'texts.stay must be a string, got 1',
    ],
    [
      'an unknown channel type',
      { pingUrl: '/p', channelType: 'carrier-pigeon' },
      'channelType must be one of native, idb, localstorage, simulate, got "carrier-pigeon"',
    ],
  ])('%s: a TypeError that says what is wrong', (_name, options, message) => {
    expect(() => resolveOptions(bad(options))).toThrow(new TypeError(`sessionward: ${message}`))
  })
})
