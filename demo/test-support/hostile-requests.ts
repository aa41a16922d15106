import fc from 'fast-check'
import type { RawEnding } from '../../packages/server/src/test-support/raw-http.ts'

// Generators of hostile requests for the demo and the ward's mounts inside it: known routes
// bent out of shape (methods, paths, queries, headers, credentials, bodies), with real sessions
// mixed in. The suite (demo/hostile-input.test.ts) turns each into a fetch Request or raw bytes.

/** Where a request's credentials come from. */
export type Credential =
  | { kind: 'none' }
  /** A real session from the pool (slot modulo its size), sent the way `via` says. */
  | { kind: 'session'; slot: number; via: 'bearer' | 'token' | 'cookie' | 'cookie+bearer' }
  /** A real JWT access token from the pool, as a Bearer header. */
  | { kind: 'access'; slot: number }
  /** Some Authorization header value (garbage, unknown tokens, forged JWTs). */
  | { kind: 'authorization'; value: string }
  /** Some Cookie header value. */
  | { kind: 'cookie'; value: string }

/** Which app a request goes to: the demo, or a host app whose ward has JWTs and rotation on. */
export type Target = 'demo' | 'jwt'

export interface HostileRequest {
  target: Target
  /** In process through `app.request()`, or raw bytes over a socket to a served app. */
  transport: 'fetch' | 'socket'
  method: string
  /** Path and query, as sent (percent-encoding and all). */
  path: string
  /** Extra headers; names may repeat. Values are latin1 strings: one character per byte. */
  headers: [string, string][]
  credential: Credential
  body: Uint8Array<ArrayBuffer> | null
  /** How the socket request ends (fetch requests always complete). */
  ending: RawEnding
  /** Socket only: the framing of the body. */
  framing: 'length' | 'chunked' | 'wrong-length' | 'length-and-chunked' | 'bad-chunks'
}

export const USER_AGENT =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36'

const text = new TextEncoder()
const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'.split('')

const base64urlString = (min: number, max: number) =>
  fc.string({ unit: fc.constantFrom(...BASE64URL), minLength: min, maxLength: max })

const hex64 = fc.string({
  unit: fc.constantFrom(...'0123456789abcdef'),
  minLength: 64,
  maxLength: 64,
})

/** A token of the right shape that no session has. */
const unknownToken = base64urlString(43, 43).map((tail) => `swt_${tail}`)

/** Device ids and report-link tokens: of the right shape (unknown), near it, or anything. */
const deviceOrReportToken = fc.oneof(
  fc
    .tuple(fc.constantFrom('swd_', 'swr_', 'swt_'), base64urlString(43, 43))
    .map(([prefix, tail]) => prefix + tail),
  fc
    .tuple(fc.constantFrom('swd_', 'swr_', 'SWR_', ''), base64urlString(0, 60))
    .map(([prefix, tail]) => prefix + tail),
  fc.string(),
)

const b64json = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')

/** JWT-looking strings: alg none, HS256 with a guessed signature, broken segments. */
const forgedJwt = fc
  .tuple(
    fc.constantFrom('none', 'HS256', 'RS256', 'EdDSA', 'HS512', ''),
    fc.record({
      sub: fc.constantFrom('alice', 'bob', 'admin', ''),
      sid: fc.oneof(fc.uuid(), fc.string()),
      exp: fc.oneof(fc.integer(), fc.double(), fc.constant(9_999_999_999)),
    }),
    fc.oneof(fc.constant(''), base64urlString(0, 86), fc.string()),
    fc.boolean(),
  )
  .map(([alg, claims, signature, broken]) => {
    const jwt = `${b64json({ alg, typ: 'JWT' })}.${b64json(claims)}.${signature}`
    return broken ? jwt.replace('.', '..') : jwt
  })

/** Latin1 text, control characters and bytes above 0x7f included. */
const latin1 = (maxLength: number) =>
  fc.string({
    unit: fc.integer({ min: 0, max: 255 }).map((code) => String.fromCharCode(code)),
    maxLength,
  })

// Not a hex digit: a long run of one would look like a leaked digest.
const huge = fc.integer({ min: 5_000, max: 20_000 }).map((n) => 'z'.repeat(n))

const authorization: fc.Arbitrary<string> = fc.oneof(
  unknownToken.map((token) => `Bearer ${token}`),
  unknownToken.map((token) => `Token ${token}`),
  forgedJwt.map((jwt) => `Bearer ${jwt}`),
  base64urlString(40, 46).map((tail) => `Bearer swt_${tail}`),
  fc.constantFrom(
    'Bearer',
    'Bearer ',
    'Token',
    'Basic YWxpY2U6YWxpY2U=',
    'bearer  x',
    'Bearer a b',
    '',
  ),
  latin1(60).map((value) => `Bearer ${value}`),
  huge.map((value) => `Bearer ${value}`),
  fc.string(),
)

const cookieValue: fc.Arbitrary<string> = fc.oneof(
  unknownToken.map((token) => `__Host-sessionward=${token}`),
  forgedJwt.map((jwt) => `__Host-sessionward=${jwt}`),
  fc.constantFrom(
    '__Host-sessionward=',
    '__Host-sessionward',
    '__Host-sessionward=%%%',
    '__Host-sessionward="swt_"',
    'sessionward=swt_x; __Host-sessionward=',
    '=; ; ;=',
  ),
  latin1(80).map((value) => `__Host-sessionward=${value}`),
  fc.string().map((value) => `__Host-sessionward=${encodeURIComponent(value)}; other=1`),
  huge.map((value) => `__Host-sessionward=${value}`),
  deviceOrReportToken.map((value) => `__Host-sessionward-device=${encodeURIComponent(value)}`),
)

export const credential: fc.Arbitrary<Credential> = fc.oneof(
  { arbitrary: fc.constant({ kind: 'none' as const }), weight: 2 },
  {
    arbitrary: fc.record({
      kind: fc.constant('session' as const),
      slot: fc.nat(),
      via: fc.constantFrom('bearer', 'token', 'cookie', 'cookie+bearer') as fc.Arbitrary<
        'bearer' | 'token' | 'cookie' | 'cookie+bearer'
      >,
    }),
    weight: 5,
  },
  { arbitrary: fc.record({ kind: fc.constant('access' as const), slot: fc.nat() }), weight: 1 },
  {
    arbitrary: authorization.map((value) => ({ kind: 'authorization' as const, value })),
    weight: 2,
  },
  { arbitrary: cookieValue.map((value) => ({ kind: 'cookie' as const, value })), weight: 1 },
)

/** Every route of the demo and of the ward's mounts, `:id` marking a session id. */
const ROUTES: [string, string][] = [
  ['POST', '/session/ping'],
  ['POST', '/session/logout'],
  ['GET', '/session/sessions'],
  ['DELETE', '/session/sessions/:id'],
  ['DELETE', '/session/sessions'],
  ['GET', '/session/history'],
  ['POST', '/session/token'],
  ['GET', '/session/sessionward.js'],
  ['GET', '/session/events'],
  ['POST', '/session/backchannel-logout'],
  ['POST', '/session/ssf'],
  ['GET', '/session/devices'],
  ['DELETE', '/session/devices/:id'],
  ['POST', '/session/sessions/:id/report'],
  ['POST', '/session/sessions/:id/approve'],
  ['GET', '/session/sessionward.extras.js'],
  ['GET', '/session/report'],
  ['POST', '/session/report'],
  ['GET', '/admin/sessions'],
  ['GET', '/admin/sessions/:id'],
  ['DELETE', '/admin/sessions/:id'],
  ['DELETE', '/admin/sessions'],
  ['POST', '/admin/sessions/end'],
  ['POST', '/admin/sessions/:id/end'],
  ['GET', '/admin/sessions/admin.css'],
  ['GET', '/login'],
  ['POST', '/login'],
  ['POST', '/api/login'],
  ['GET', '/api/me'],
  ['GET', '/api/poll'],
  ['GET', '/'],
  ['GET', '/devices'],
  ['GET', '/assets/demo.css'],
]

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']

const oddSegment = fc.oneof(
  fc.constantFrom(
    '..',
    '.',
    '',
    '%2e%2e',
    '%2E',
    '%00',
    'a%00b',
    '%2f',
    '%5c',
    '%ff',
    '%',
    '%zz',
    '%C0%AE%C0%AE',
    '%E2%80%AE',
    'ses%73ion',
    'SESSION',
    'ping;x=1',
  ),
  fc.string().map(encodeURIComponent),
  fc.uuid(),
  hex64,
  fc.integer({ min: 2_000, max: 12_000 }).map((n) => 'x'.repeat(n)),
)

const sessionIdLike = fc.oneof(
  { arbitrary: fc.constant(':own'), weight: 3 },
  { arbitrary: fc.uuid(), weight: 2 },
  { arbitrary: oddSegment, weight: 2 },
)

const QUERY_NAMES = [
  'user',
  'live',
  'reason',
  'cursor',
  'limit',
  'others',
  'createdAfter',
  'createdBefore',
  'endedAfter',
  'endedBefore',
  'idleFor',
  'token',
]

const queryValue = fc.oneof(
  fc.constantFrom(
    '',
    'true',
    'false',
    'alice',
    'admin',
    '%00',
    'a%00b',
    '0',
    '-1',
    '1e999',
    '201',
    '50',
    'NaN',
    'idle',
    '2026-11-23',
    '2026-02-30T25:61:00Z',
    '9999-12-31T23:59:59.999999+14:00',
    'eyJpZCI6IngifQ',
    '%ZZ',
  ),
  fc.string().map(encodeURIComponent),
  fc.string(),
  hex64,
  fc.integer({ min: 300, max: 9_000 }).map((n) => 'u'.repeat(n)),
)

const query = fc
  .array(
    fc.tuple(
      fc.oneof(fc.constantFrom(...QUERY_NAMES), fc.string().map(encodeURIComponent)),
      queryValue,
    ),
    {
      maxLength: 4,
    },
  )
  .map((pairs) => (pairs.length ? `?${pairs.map(([k, v]) => `${k}=${v}`).join('&')}` : ''))

/** A route's path with its `:id` filled in, perhaps bent: odd segments, slashes, case. */
const path = fc
  .tuple(
    fc.constantFrom(...ROUTES),
    sessionIdLike,
    fc.oneof(
      { arbitrary: fc.constant(null), weight: 3 },
      { arbitrary: fc.tuple(fc.nat(), oddSegment), weight: 2 },
    ),
    fc.constantFrom('', '', '', '/', '//'),
    query,
  )
  .map(([[method, route], id, bend, tail, search]) => {
    let segments = route.replace(':id', id).split('/')
    if (bend) {
      const [at, segment] = bend
      const index = 1 + (at % segments.length)
      segments = [...segments.slice(0, index), segment, ...segments.slice(index)]
    }
    return {
      method,
      route,
      path: `${segments.join('/')}${tail}${search}`,
      plain: `${route.replace(':id', id)}${search}`,
    }
  })

const ACCEPTS = [
  'application/json',
  'text/html',
  'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8',
  '*/*',
  'application/json;q=0.1, text/html;q=0.2',
  'text/event-stream',
  'garbage;;q=x',
]

const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=XyZ',
  'multipart/form-data',
  'multipart/form-data; boundary=',
  'text/plain',
  'application/octet-stream',
  'application/json; charset=utf-7',
  'application/x-www-form-urlencoded; charset=latin1',
  '*/*',
  ';;;',
]

// `:self` stands for the origin of the app the request goes to.
const ORIGINS = [':self', 'http://127.0.0.1', 'https://evil.example', 'null', '']

const header: fc.Arbitrary<[string, string]> = fc.oneof(
  // Second credentials beside the request's own: a duplicate Authorization or Cookie header.
  authorization.map((v): [string, string] => ['authorization', v]),
  cookieValue.map((v): [string, string] => ['cookie', v]),
  fc.constantFrom(...ACCEPTS).map((v): [string, string] => ['accept', v]),
  fc.constantFrom(...CONTENT_TYPES).map((v): [string, string] => ['content-type', v]),
  fc.string().map((v): [string, string] => ['content-type', v]),
  fc.constantFrom(...ORIGINS).map((v): [string, string] => ['origin', v]),
  fc
    .constantFrom('same-origin', 'cross-site', 'none', 'same-site', '??')
    .map((v): [string, string] => ['sec-fetch-site', v]),
  fc
    .constantFrom(
      USER_AGENT,
      '',
      'curl/8.0',
      'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)',
    )
    .map((v): [string, string] => ['user-agent', v]),
  fc
    .constantFrom(
      'http://localhost/admin/sessions?user=bob',
      'http://evil.example/admin/sessions',
      '::',
    )
    .map((v): [string, string] => ['referer', v]),
  fc
    .constantFrom('1.2.3.4', 'unknown, ::1', '')
    .map((v): [string, string] => ['x-forwarded-for', v]),
  fc.constantFrom('https', 'http', 'gopher').map((v): [string, string] => ['x-forwarded-proto', v]),
  latin1(200).map((v): [string, string] => ['x-binary', v]),
  huge.map((v): [string, string] => ['x-huge', v]),
  fc
    .constantFrom('0', '-1', '99999999999999999999', 'abc', '10, 20')
    .map((v): [string, string] => ['content-length', v]),
)

/** A multipart body, well-formed or broken in one of the ways parsers trip on. */
const multipart = fc
  .tuple(
    fc.constantFrom('XyZ', 'other', ''),
    fc.string(),
    fc.string(),
    fc.constantFrom('ok', 'no-close', 'no-headers', 'garbage-headers', 'truncated', 'file'),
  )
  .map(([boundary, username, password, shape]) => {
    const part = (name: string, value: string) =>
      `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`
    const closing = `--${boundary}--\r\n`
    const bodies: Record<string, string> = {
      ok: part('username', username) + part('password', password) + closing,
      'no-close': part('username', username),
      'no-headers': `--${boundary}\r\n\r\n${username}\r\n${closing}`,
      'garbage-headers': `--${boundary}\r\nContent-Disposition: form-data; name=\r\n\r\n${username}\r\n${closing}`,
      truncated: part('username', username).slice(0, 20),
      file: `--${boundary}\r\nContent-Disposition: form-data; name="username"; filename="a.txt"\r\nContent-Type: text/plain\r\n\r\n${username}\r\n${closing}`,
    }
    return { contentType: `multipart/form-data; boundary=${boundary}`, body: bodies[shape] ?? '' }
  })

// Right credentials often enough that logins succeed (and sessions get created and evicted).
const loginFields: fc.Arbitrary<{ username: unknown; password: unknown }> = fc.oneof(
  fc.constantFrom('alice', 'bob', 'admin').map((user) => ({ username: user, password: user })),
  fc.record({
    username: fc.oneof(
      fc.constantFrom('alice', 'bob', 'admin', 'nobody'),
      fc.string(),
      fc.constant(null),
    ),
    password: fc.oneof(
      fc.constantFrom('alice', 'bob', 'admin', 'wrong'),
      fc.string(),
      fc.integer(),
    ),
  }),
)

interface Body {
  contentType: string | null
  bytes: Uint8Array<ArrayBuffer> | null
}

const pingBody = fc
  .oneof(
    { arbitrary: fc.nat({ max: 100_000 }), weight: 3 },
    fc.double(),
    fc.integer(),
    fc.string(),
    fc.constant(null),
  )
  .map(
    (idleFor): Body => ({
      contentType: 'application/json',
      bytes: text.encode(JSON.stringify({ idleFor })),
    }),
  )

const loginJsonBody = fc.oneof(
  loginFields.map(
    (fields): Body => ({
      contentType: 'application/json',
      bytes: text.encode(JSON.stringify(fields)),
    }),
  ),
  fc
    .constantFrom('{"username":', '[]', 'null', '"x"')
    .map((json): Body => ({ contentType: 'application/json', bytes: text.encode(json) })),
)

const loginFormBody = fc.oneof(
  loginFields.map(
    ({ username, password }): Body => ({
      contentType: 'application/x-www-form-urlencoded',
      bytes: text.encode(
        new URLSearchParams({ username: String(username), password: String(password) }).toString(),
      ),
    }),
  ),
  fc
    .constantFrom(
      'username=%zz&password=%',
      'a=%00&&&==',
      '%',
      'username=alice&username=bob&password=alice',
    )
    .map(
      (form): Body => ({
        contentType: 'application/x-www-form-urlencoded',
        bytes: text.encode(form),
      }),
    ),
  multipart.map((made): Body => ({ contentType: made.contentType, bytes: text.encode(made.body) })),
)

/**
 * `:idp-token-<n>:` stands for the pool's n-th token (modulo its size) signed by the suite's
 * identity provider; hostile-wire.ts fills it in.
 */
export const IDP_TOKEN = /:idp-token-(\d+):/g

/** What is sent as a logout token or a security event: a real one often, else anything. */
const idpToken = fc.oneof(
  { arbitrary: fc.nat().map((slot) => `:idp-token-${slot}:`), weight: 4 },
  { arbitrary: forgedJwt, weight: 2 },
  fc.constantFrom('', '.', '..', 'a.b.c.d.e', 'e30.e30.', 'e30.W10.x', 'bnVsbA.bnVsbA.x'),
  // Headers and claims of the wrong JSON types where strings and numbers belong.
  fc
    .tuple(
      fc.record({
        alg: fc.oneof(fc.constantFrom('RS256', 'none', 'HS256'), fc.integer(), fc.constant(null)),
        typ: fc.oneof(
          fc.constantFrom('logout+jwt', 'secevent+jwt'),
          fc.integer(),
          fc.array(fc.string()),
        ),
        kid: fc.oneof(fc.string(), fc.integer()),
      }),
      fc.dictionary(
        fc.constantFrom(
          'iss',
          'aud',
          'iat',
          'exp',
          'sub',
          'sid',
          'jti',
          'events',
          'nonce',
          'sub_id',
        ),
        fc.oneof(
          fc.string(),
          fc.integer(),
          fc.double(),
          fc.boolean(),
          fc.constant(null),
          fc.object(),
        ),
      ),
      base64urlString(0, 86),
    )
    .map(([header, claims, signature]) => `${b64json(header)}.${b64json(claims)}.${signature}`),
  fc.array(base64urlString(0, 120), { minLength: 1, maxLength: 6 }).map((parts) => parts.join('.')),
  latin1(200),
  fc.string(),
  huge,
)

const logoutBody = fc
  .oneof(
    idpToken.map((token) =>
      token.match(IDP_TOKEN)
        ? `logout_token=${token}`
        : `logout_token=${encodeURIComponent(token)}`,
    ),
    fc
      .tuple(idpToken, idpToken)
      .map(
        ([a, b]) => `logout_token=${encodeURIComponent(a)}&logout_token=${encodeURIComponent(b)}`,
      ),
    fc.constantFrom('logout_token=', 'logout_token=%zz', '%', 'token=x', 'logout_token'),
  )
  .map(
    (form): Body => ({
      contentType: 'application/x-www-form-urlencoded',
      bytes: text.encode(form),
    }),
  )

const securityEventBody = idpToken.map(
  (token): Body => ({ contentType: 'application/secevent+jwt', bytes: text.encode(token) }),
)

const NO_BODY: Body = { contentType: null, bytes: null }

/** A report link's POST: the token (and "every other session"), as a form or JSON. */
const reportBody = fc
  .tuple(deviceOrReportToken, fc.oneof(fc.boolean(), fc.string()), fc.boolean())
  .map(
    ([token, others, form]): Body =>
      form
        ? {
            contentType: 'application/x-www-form-urlencoded',
            bytes: text.encode(new URLSearchParams({ token, others: String(others) }).toString()),
          }
        : {
            contentType: 'application/json',
            bytes: text.encode(JSON.stringify({ token, others })),
          },
  )

/** The kind of body a route takes, or null for one that takes none. */
function bodyFor(
  route: string,
  bodies: {
    ping: Body
    loginJson: Body
    loginForm: Body
    logout: Body
    securityEvent: Body
    report: Body
  },
): Body | null {
  if (route === '/session/ping') return bodies.ping
  if (route === '/session/backchannel-logout') return bodies.logout
  if (route === '/session/ssf') return bodies.securityEvent
  if (route === '/session/report') return bodies.report
  if (route === '/api/login') return bodies.loginJson
  if (route === '/login') return bodies.loginForm
  return null
}

/** A body and the Content-Type that usually goes with it. */
const body: fc.Arbitrary<Body> = fc
  .oneof(
    { arbitrary: fc.constant({ contentType: null, bytes: null }), weight: 4 },
    {
      arbitrary: fc
        .oneof(fc.double(), fc.integer(), fc.string(), fc.constant(null), fc.constant(-1))
        .map((idleFor) => JSON.stringify({ idleFor })),
      weight: 2,
    },
    { arbitrary: loginFields.map((fields) => JSON.stringify(fields)), weight: 2 },
    { arbitrary: fc.json().map((json) => json), weight: 1 },
    {
      arbitrary: fc.constantFrom('{"idleFor": ', '{', '[', 'nul', '{"username":"alice"', '\u0000'),
      weight: 1,
    },
    {
      arbitrary: loginFields.map(({ username, password }) =>
        new URLSearchParams({ username: String(username), password: String(password) }).toString(),
      ),
      weight: 1,
    },
    { arbitrary: fc.constantFrom('username=%zz&password=%', 'a=%00&&&==', '%'), weight: 1 },
    { arbitrary: multipart, weight: 2 },
    { arbitrary: fc.oneof(logoutBody, securityEventBody), weight: 1 },
    { arbitrary: fc.uint8Array({ maxLength: 2_048 }), weight: 1 },
    {
      arbitrary: fc
        .constantFrom(1_500, 5_000, 70_000)
        .map((n) => JSON.stringify({ idleFor: 1, pad: 'p'.repeat(n) })),
      weight: 1,
    },
  )
  .map((made) => {
    if (made instanceof Uint8Array) return { contentType: 'application/octet-stream', bytes: made }
    if (typeof made === 'string') {
      const type =
        made.startsWith('{') || made.startsWith('[')
          ? 'application/json'
          : 'application/x-www-form-urlencoded'
      return { contentType: type, bytes: text.encode(made) }
    }
    if ('body' in made) return { contentType: made.contentType, bytes: text.encode(made.body) }
    return made
  })

/** One hostile request; `socketShare` of them (0 to 1) go over a raw socket. */
export function hostileRequest(socketShare: number): fc.Arbitrary<HostileRequest> {
  return fc
    .record({
      target: fc.oneof(
        { arbitrary: fc.constant<Target>('demo'), weight: 4 },
        fc.constant<Target>('jwt'),
      ),
      socket: fc.noBias(fc.integer({ min: 0, max: 999 })).map((x) => x < socketShare * 1000),
      plausible: fc.boolean(),
      route: path,
      method: fc.oneof(
        { arbitrary: fc.constant(null), weight: 3 },
        { arbitrary: fc.constantFrom(...METHODS, 'TRACE', 'PROPFIND', 'get'), weight: 1 },
      ),
      headers: fc.array(header, { maxLength: 4 }),
      credential,
      body,
      routeBody: fc.record({
        ping: pingBody,
        loginJson: loginJsonBody,
        loginForm: loginFormBody,
        logout: logoutBody,
        securityEvent: securityEventBody,
        report: reportBody,
      }),
      dropContentType: fc.boolean(),
      ending: fc.oneof(
        { arbitrary: fc.constant<RawEnding>('complete'), weight: 6 },
        fc.constant<RawEnding>('half-close'),
        fc.constant<RawEnding>('reset'),
      ),
      framing: fc.oneof(
        { arbitrary: fc.constant<HostileRequest['framing']>('length'), weight: 6 },
        fc.constantFrom<HostileRequest['framing']>(
          'chunked',
          'wrong-length',
          'length-and-chunked',
          'bad-chunks',
        ),
      ),
    })
    .map((r) => {
      // A plausible request is what a client of the route would send, but for its other fuzzed
      // headers and credentials: the right method, path, Origin and body kind.
      const made = r.plausible ? (bodyFor(r.route.route, r.routeBody) ?? NO_BODY) : r.body
      const headers = [...r.headers]
      if (r.plausible) headers.unshift(['origin', ':self'])
      if (made.contentType && !r.dropContentType)
        headers.unshift(['content-type', made.contentType])
      // The identity providers' tokens are signed for the JWT host's ward: a plausible one goes there.
      const forProvider = ['/session/backchannel-logout', '/session/ssf'].includes(r.route.route)
      return {
        target: r.plausible && forProvider ? 'jwt' : r.target,
        transport: r.socket ? 'socket' : 'fetch',
        method: r.plausible ? r.route.method : (r.method ?? r.route.method),
        path: r.plausible ? r.route.plain : r.route.path,
        headers,
        credential: r.credential,
        body: made.bytes,
        ending: r.ending,
        framing: r.framing,
      } satisfies HostileRequest
    })
}
