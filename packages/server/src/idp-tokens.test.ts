import { describe, expect, it } from 'vitest'
import { idpLink } from './idp-options.ts'
import { subjectSessions } from './idp-tokens.ts'

// The pure parts the route tests (identity-providers.test.ts) do not reach one by one: which
// linked sessions a Shared Signals subject names, and the `idp` link createSession takes.

const ISSUER = 'https://idp.example'

describe('subjectSessions: the linked sessions an RFC 9493 subject names', () => {
  it.each<[string, Record<string, unknown>, ReturnType<typeof subjectSessions>]>([
    [
      'iss_sub of this issuer',
      { format: 'iss_sub', iss: ISSUER, sub: 'u1' },
      { issuer: ISSUER, sub: 'u1' },
    ],
    [
      'iss_sub of another issuer (not trusted)',
      { format: 'iss_sub', iss: 'https://other', sub: 'u1' },
      null,
    ],
    ['iss_sub without sub', { format: 'iss_sub', iss: ISSUER }, null],
    [
      'opaque: the provider session id',
      { format: 'opaque', id: 's1' },
      { issuer: ISSUER, sid: 's1' },
    ],
    ['opaque without id', { format: 'opaque' }, null],
    [
      'complex of a user and a session',
      {
        format: 'complex',
        user: { format: 'iss_sub', iss: ISSUER, sub: 'u1' },
        session: { format: 'opaque', id: 's1' },
      },
      { issuer: ISSUER, sub: 'u1', sid: 's1' },
    ],
    [
      'complex whose user is an email (the app must resolve it)',
      {
        format: 'complex',
        user: { format: 'email', email: 'a@example.com' },
        session: { format: 'opaque', id: 's1' },
      },
      null,
    ],
    ['complex with neither', { format: 'complex' }, null],
    ['email', { format: 'email', email: 'a@example.com' }, null],
  ])('%s', (_name, subject, expected) => {
    expect(subjectSessions(subject, ISSUER)).toEqual(expected)
  })
})

describe("idpLink: createSession's idp option", () => {
  const providers = [{ issuer: ISSUER, audience: 'app', jwksUri: null, resolveSubject: null }]

  it('stores issuer, sub and sid (null when the provider gave none)', () => {
    expect(idpLink({ issuer: ISSUER, sub: 'u1', sid: 's1' }, providers)).toEqual({
      issuer: ISSUER,
      sub: 'u1',
      sid: 's1',
    })
    expect(idpLink({ issuer: ISSUER, sub: 'u1' }, providers)?.sid).toBeNull()
    expect(idpLink(undefined, providers)).toBeNull()
  })

  it.each<[string, unknown]>([
    ['a sub that is not a string', { issuer: ISSUER, sub: 42 }],
    ['an empty sid', { issuer: ISSUER, sub: 'u1', sid: '' }],
    ['an unknown key', { issuer: ISSUER, sub: 'u1', session: 's1' }],
    ['a sub of 256 characters', { issuer: ISSUER, sub: 'u'.repeat(256) }],
  ])('refuses %s with a TypeError saying what to pass', (_name, idp) => {
    expect(() => idpLink(idp, providers)).toThrow(
      'createSession idp must be { issuer, sub, sid? } with sub and sid strings of 1 to 255 characters',
    )
  })
})
