import { describe, expect, test } from 'vitest'
import { ACTIVITY_EVENTS } from './activity.ts'
import { DEFAULT_TEXTS } from './dialog.ts'
import { redirectUrl, resolveOptions, type SessionWardOptions } from './options.ts'

const bad = (options: unknown): SessionWardOptions => options as SessionWardOptions

describe('options', () => {
  test('defaults follow the server (840 s / 900 s) and times become milliseconds', () => {
    const options = resolveOptions({ pingUrl: '/session/ping' })
    expect(options).toEqual({
      pingUrl: '/session/ping',
      eventsUrl: '/session/events',
      headers: {},
      warnAfter: 840_000,
      expireAfter: 900_000,
      dialog: true,
      channelName: 'sessionward',
      texts: {},
      activityEvents: ACTIVITY_EVENTS,
    })
  })

  test('activityEvents replaces the default events; media and debug turn on', () => {
    const options = resolveOptions({
      pingUrl: '/p',
      activityEvents: ['keydown', 'pointerdown'],
      media: true,
      debug: true,
    })
    expect(options).toMatchObject({
      activityEvents: ['keydown', 'pointerdown'],
      media: true,
      debug: true,
    })
  })

  test('texts keep only what the app set: the dialog puts them over its locale', () => {
    const { texts } = resolveOptions({ pingUrl: '/p', texts: { stay: 'Angemeldet bleiben' } })
    expect(texts).toEqual({ stay: 'Angemeldet bleiben' })
  })

  test('a locale is a tag, any tag (an unknown one shows English), or a complete locale', () => {
    expect(resolveOptions({ pingUrl: '/p', locale: 'pt-BR' }).locale).toBe('pt-BR')
    expect(resolveOptions({ pingUrl: '/p', locale: 'tlh' }).locale).toBe('tlh')
    const ur = { tag: 'ur', dir: 'rtl' as const, texts: { ...DEFAULT_TEXTS } }
    expect(resolveOptions({ pingUrl: '/p', locale: ur }).locale).toBe(ur)
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
      'media as a string',
      { pingUrl: '/p', media: 'yes' },
      'media must be true or false, got "yes"',
    ],
    ['debug as a number', { pingUrl: '/p', debug: 1 }, 'debug must be true or false, got 1'],
    [
      'activityEvents as one string',
      { pingUrl: '/p', activityEvents: 'keydown' },
      'activityEvents must be a non-empty array of strings, got "keydown"',
    ],
    [
      'activityEvents empty',
      { pingUrl: '/p', activityEvents: [] },
      'activityEvents must be a non-empty array of strings, got []',
    ],
    [
      'activityEvents with a blank or a non-string',
      { pingUrl: '/p', activityEvents: ['keydown', ' ', 3] },
      'activityEvents must be a non-empty array of strings, got ["keydown"," ",3]',
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
    ['texts as an array', { pingUrl: '/p', texts: [] }, 'texts must be an object, got []'],
    [
      'a text that is no string',
      { pingUrl: '/p', texts: { stay: 1 } },
      'texts.stay must be a string, got 1',
    ],
    [
      'a locale that is a number',
      { pingUrl: '/p', locale: 7 },
      'locale must be a language tag or { tag, dir?, texts } with every text',
    ],
    [
      'a locale object whose tag is no language tag',
      { pingUrl: '/p', locale: { tag: 'x_y!', texts: DEFAULT_TEXTS } },
      'locale must be a language tag or { tag, dir?, texts } with every text',
    ],
    [
      'a locale object with a direction that is neither ltr nor rtl',
      { pingUrl: '/p', locale: { tag: 'ur', dir: 'right', texts: DEFAULT_TEXTS } },
      'locale must be a language tag or { tag, dir?, texts } with every text',
    ],
    [
      'a locale object without every text',
      { pingUrl: '/p', locale: { tag: 'ur', texts: { title: 'x' } } },
      'locale must be a language tag or { tag, dir?, texts } with every text',
    ],
    [
      'a locale object without texts',
      { pingUrl: '/p', locale: { tag: 'ur' } },
      'locale must be a language tag or { tag, dir?, texts } with every text',
    ],
    [
      'an unknown channel type',
      { pingUrl: '/p', channelType: 'carrier-pigeon' },
      'channelType must be one of native, idb, localstorage, simulate, got "carrier-pigeon"',
    ],
    [
      'an events URL that is neither a URL nor false',
      { pingUrl: '/p', eventsUrl: true },
      'eventsUrl must be a non-empty string or false, got true',
    ],
    [
      'redirectTo that is neither a URL nor a function',
      { pingUrl: '/p', redirectTo: 5 },
      'redirectTo must be a non-empty string or a function, got 5',
    ],
  ])('%s: a TypeError that says what is wrong', (_name, options, message) => {
    expect(() => resolveOptions(bad(options))).toThrow(new TypeError(`sessionward: ${message}`))
  })
})

describe('the events channel URL', () => {
  test.each([
    ['/session/ping', '/session/events'],
    [
      'https://api.example.com/v1/session/ping?app=2',
      'https://api.example.com/v1/session/events?app=2',
    ],
    ['ping', 'events'],
    // Not a ping route by that name: the channel cannot be guessed, so it stays off.
    ['/api/keepalive', null],
    ['/session/pinger', null],
  ])('%s: by default %s', (pingUrl, eventsUrl) => {
    expect(resolveOptions({ pingUrl }).eventsUrl).toBe(eventsUrl)
  })

  test('named, or turned off with false', () => {
    expect(resolveOptions({ pingUrl: '/p', eventsUrl: '/live' }).eventsUrl).toBe('/live')
    expect(resolveOptions({ pingUrl: '/session/ping', eventsUrl: false }).eventsUrl).toBeNull()
  })
})

describe('the redirect carries the reason', () => {
  test.each([
    ['/login?reason=idle', 'admin', '/login?reason=admin'],
    ['/login', 'revoked', '/login?reason=revoked'],
    [
      '/login?next=%2Fa%3Fb&reason=idle&x=1#form',
      'evicted',
      '/login?next=%2Fa%3Fb&reason=evicted&x=1#form',
    ],
    ['https://example.com/bye#top', 'logout', 'https://example.com/bye?reason=logout#top'],
    ['/login?reason=a&reason=b', 'idle', '/login?reason=idle'],
  ])('%s with %s: %s', (to, reason, url) => {
    expect(redirectUrl(to, reason)).toBe(url)
  })

  test('a function of the reason gives the URL', () => {
    expect(redirectUrl((reason) => `/signed-out/${reason}`, 'user_agent_changed')).toBe(
      '/signed-out/user_agent_changed',
    )
  })
})
