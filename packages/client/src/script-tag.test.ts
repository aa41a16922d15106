import { afterEach, beforeAll, describe, expect, test } from 'vitest'
import { boot, optionsFromDataset, type SessionWardGlobal } from './script-tag.ts'
import { installWebLocks } from './test-support/browser.ts'

const tag = (attributes: Record<string, string>): HTMLScriptElement => {
  const script = document.createElement('script')
  for (const [name, value] of Object.entries(attributes)) script.setAttribute(name, value)
  return script
}

beforeAll(installWebLocks)
afterEach(() => document.body.replaceChildren())

describe('script tag', () => {
  test('data-locale picks the dialog’s language', () => {
    expect(
      optionsFromDataset(tag({ 'data-ping-url': '/p', 'data-locale': 'pt-BR' }).dataset),
    ).toEqual({ pingUrl: '/p', locale: 'pt-BR' })
  })

  test('data- attributes become options: kebab-case names, seconds, dialog, texts', () => {
    const script = tag({
      'data-ping-url': '/session/ping',
      'data-logout-url': '/session/logout',
      'data-redirect-to': '/login?reason=idle',
      'data-warn-after': '20',
      'data-expire-after': '30',
      'data-channel-name': 'my-app',
      'data-nonce': 'abc',
      'data-dialog': 'false',
      'data-text-stay': 'Bleiben',
      'data-unrelated': 'ignored',
    })
    expect(optionsFromDataset(script.dataset)).toEqual({
      pingUrl: '/session/ping',
      logoutUrl: '/session/logout',
      redirectTo: '/login?reason=idle',
      warnAfter: 20,
      expireAfter: 30,
      channelName: 'my-app',
      nonce: 'abc',
      dialog: false,
      texts: { stay: 'Bleiben' },
    })
  })

  test('data-media, data-debug and data-dialog: present, empty or "true" is on, "false" off', () => {
    const flags = (value: string) =>
      optionsFromDataset(
        tag({
          'data-ping-url': '/p',
          'data-media': value,
          'data-debug': value,
          'data-dialog': value,
        }).dataset,
      )
    expect(flags('')).toMatchObject({ media: true, debug: true, dialog: true })
    expect(flags('true')).toMatchObject({ media: true, debug: true, dialog: true })
    expect(flags('false')).toMatchObject({ media: false, debug: false, dialog: false })
    expect(() => boot(tag({ 'data-ping-url': '/p', 'data-media': 'on' }))).toThrow(
      'sessionward: media must be true or false, got "on"',
    )
  })

  test('data-activity-events: event names separated by spaces or commas', () => {
    const events = (value: string) =>
      optionsFromDataset(tag({ 'data-ping-url': '/p', 'data-activity-events': value }).dataset)
        ?.activityEvents
    expect(events('keydown pointerdown')).toEqual(['keydown', 'pointerdown'])
    expect(events(' keydown,\n pointerdown , ')).toEqual(['keydown', 'pointerdown'])
    expect(() => boot(tag({ 'data-ping-url': '/p', 'data-activity-events': ' ' }))).toThrow(
      'sessionward: activityEvents must be a non-empty array of strings, got []',
    )
  })

  test('data-events-url names the channel; "false" or an empty value turns it off', () => {
    const events = (value: string) =>
      optionsFromDataset(tag({ 'data-ping-url': '/p', 'data-events-url': value }).dataset)
        ?.eventsUrl
    expect([events('/live'), events('false'), events('')]).toEqual(['/live', false, false])
  })

  test('without data-ping-url nothing starts, but the factory is there', () => {
    expect(boot(null).ward).toBeNull()
    const global = boot(tag({ 'data-warn-after': '20' }))
    expect(global.ward).toBeNull()
    expect(global.createSessionWard({ pingUrl: '/p' }).getState()).toBe('stopped')
  })

  test('a bad attribute fails with the option name in the message', () => {
    expect(() => boot(tag({ 'data-ping-url': '/p', 'data-warn-after': 'soon' }))).toThrow(
      'sessionward: warnAfter must be a positive number of seconds, got "soon"',
    )
    expect(() => boot(tag({ 'data-ping-url': '/p', 'data-dialog': 'maybe' }))).toThrow(
      'sessionward: dialog must be true or false, got "maybe"',
    )
  })

  test('12: a bad attribute still exposes the factory, so the page can fall back to it', () => {
    let exposed: SessionWardGlobal | null = null
    const expose = (global: SessionWardGlobal): void => {
      exposed = global
    }
    expect(() => boot(tag({ 'data-ping-url': '/p', 'data-warn-after': 'soon' }), expose)).toThrow(
      'sessionward: warnAfter must be a positive number of seconds, got "soon"',
    )
    const global = exposed as SessionWardGlobal | null
    expect(global?.ward).toBeNull()
    expect(global?.createSessionWard({ pingUrl: '/p' }).getState()).toBe('stopped')
  })

  test('with data-ping-url the ward starts right away (and stops before it could ping)', () => {
    const { ward } = boot(
      tag({ 'data-ping-url': '/session/ping', 'data-channel-type': 'simulate', 'data-dialog': '' }),
    )
    expect(ward?.getState()).toBe('active')
    ward?.stop()
  })
})

test('the bundle entry exposes window.SessionWard', async () => {
  await import('./iife.ts')
  expect(window.SessionWard.ward).toBeNull()
  expect(typeof window.SessionWard.createSessionWard).toBe('function')
})
