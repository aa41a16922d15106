import { type HostileRequest, IDP_TOKEN, USER_AGENT } from './hostile-requests.ts'

// Turns a generated request into what goes on the wire: a fetch Request for the in-process
// half, raw HTTP/1.1 bytes for the socket half, with a pool's real credentials filled in.

/** Real sessions and access tokens, from real logins. */
export interface Pool {
  tokens: string[]
  /** The admin's, for most requests to the admin view (else few would get past its guard). */
  admin: string[]
  ids: string[]
  access: string[]
  /** Logout tokens and security events the suite's identity provider signed (some used before). */
  idp: string[]
}

/** The request's headers, credentials included, as [name, value] pairs. */
export function headerList(
  request: HostileRequest,
  path: string,
  pool: Pool,
  origin: string,
): [string, string][] {
  const headers: [string, string][] = [
    ['user-agent', USER_AGENT],
    ...request.headers.map(([name, value]): [string, string] => [
      name,
      value.replace(':self', origin),
    ]),
  ]
  const { credential } = request
  const slot = credential.kind === 'session' ? credential.slot : 0
  const tokens = path.startsWith('/admin') && slot % 4 !== 0 ? pool.admin : pool.tokens
  const token = tokens[slot % tokens.length]
  if (credential.kind === 'session' && token) {
    if (credential.via === 'bearer' || credential.via === 'cookie+bearer') {
      headers.push(['authorization', `Bearer ${token}`])
    }
    if (credential.via === 'token') headers.push(['authorization', `Token ${token}`])
    if (credential.via === 'cookie' || credential.via === 'cookie+bearer') {
      headers.push(['cookie', `__Host-sessionward=${token}`])
    }
  }
  if (credential.kind === 'access') {
    headers.push(['authorization', `Bearer ${pool.access[credential.slot % pool.access.length]}`])
  }
  if (credential.kind === 'authorization') headers.push(['authorization', credential.value])
  if (credential.kind === 'cookie') headers.push(['cookie', credential.value])
  return headers
}

/** The path with a pool session's id where the generator asked for one of ours. */
export function pathOf(request: HostileRequest, pool: Pool): string {
  const id = pool.ids[request.path.length % pool.ids.length] ?? ''
  return request.path.replaceAll(':own', id)
}

/** The request with a token of the pool's identity provider where the generator asked for one. */
export function withIdpToken(request: HostileRequest, pool: Pool): HostileRequest {
  if (!request.body) return request
  const sent = Buffer.from(request.body).toString('latin1')
  const filled = sent.replace(IDP_TOKEN, (_marker, slot: string) => {
    return pool.idp[Number(slot) % pool.idp.length] ?? ''
  })
  if (filled === sent) return request
  return { ...request, body: new Uint8Array(Buffer.from(filled, 'latin1')) }
}

/** The request as a fetch Request, or null when the Fetch API refuses it (sent raw instead). */
export function asFetchRequest(
  request: HostileRequest,
  path: string,
  headers: [string, string][],
): Request | null {
  const init = new Headers()
  try {
    for (const [name, value] of headers) {
      // The Fetch API frames the body itself; a real server never passes a mismatched length on.
      if (name === 'content-length' || name === 'transfer-encoding') continue
      // What a Fetch API header cannot hold (NUL, CR, LF, beyond latin1) goes raw over a socket.
      init.append(name, value.replace(/[\0\r\n]|[^\0-\xff]/gu, ''))
    }
    const hasBody = request.body !== null && !['GET', 'HEAD'].includes(request.method.toUpperCase())
    return new Request(`http://localhost${path}`, {
      method: request.method,
      headers: init,
      body: hasBody ? request.body : null,
    })
  } catch {
    return null
  }
}

function chunked(body: Uint8Array): Buffer {
  const half = Math.ceil(body.length / 2)
  const parts = [body.subarray(0, half), body.subarray(half)].filter((part) => part.length > 0)
  return Buffer.concat([
    ...parts.flatMap((part) => [
      Buffer.from(`${part.length.toString(16)}\r\n`),
      part,
      Buffer.from('\r\n'),
    ]),
    Buffer.from('0\r\n\r\n'),
  ])
}

/** The request as raw HTTP/1.1 bytes, framed the way the generator said. */
export function asRawBytes(
  request: HostileRequest,
  path: string,
  headers: [string, string][],
  port: number,
): Buffer {
  const body = request.body ?? new Uint8Array()
  const framing: Record<HostileRequest['framing'], [string[], Buffer]> = {
    length: [[`Content-Length: ${body.length}`], Buffer.from(body)],
    chunked: [['Transfer-Encoding: chunked'], chunked(body)],
    'wrong-length': [[`Content-Length: ${body.length + 10}`], Buffer.from(body)],
    'length-and-chunked': [
      [`Content-Length: ${body.length}`, 'Transfer-Encoding: chunked'],
      chunked(body),
    ],
    'bad-chunks': [
      ['Transfer-Encoding: chunked'],
      Buffer.from(`zz\r\n${Buffer.from(body).toString('latin1')}\r\n`),
    ],
  }
  const [frameHeaders, payload] = framing[request.framing]
  const head = [
    `${request.method} ${path} HTTP/1.1`,
    `Host: 127.0.0.1:${port}`,
    'Connection: close',
    ...headers.map(([name, value]) => `${name}: ${value}`),
    ...(request.body !== null || request.framing !== 'length' ? frameHeaders : []),
  ]
  return Buffer.concat([Buffer.from(`${head.join('\r\n')}\r\n\r\n`, 'latin1'), payload])
}
