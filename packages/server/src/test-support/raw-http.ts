import { connect } from 'node:net'

/** An answer read off the socket. */
export interface RawAnswer {
  status: number
  /** Header names in lower case, in the order received. */
  headers: [string, string][]
  body: Buffer
}

/** How the request ends on the wire. */
export type RawEnding =
  /** All bytes sent; wait for the answer and the server's close (`Connection: close`). */
  | 'complete'
  /** Bytes sent, then the client half-closes (FIN): a body shorter than it said breaks off. */
  | 'half-close'
  /** Bytes sent, then the connection is reset at once: an upload aborted mid-way. */
  | 'reset'

function header(headers: [string, string][], name: string): string | undefined {
  return headers.find(([key]) => key === name)?.[1]
}

function dechunk(data: Buffer): Buffer {
  const parts: Buffer[] = []
  let at = 0
  for (;;) {
    const lineEnd = data.indexOf('\r\n', at)
    if (lineEnd < 0) break
    const size = Number.parseInt(data.subarray(at, lineEnd).toString('latin1'), 16)
    if (!Number.isFinite(size) || size === 0) break
    parts.push(data.subarray(lineEnd + 2, lineEnd + 2 + size))
    at = lineEnd + 2 + size + 2
  }
  return Buffer.concat(parts)
}

/** Parses the first HTTP/1.1 answer in `data`, or null when there is none. */
export function parseAnswer(data: Buffer): RawAnswer | null {
  const headEnd = data.indexOf('\r\n\r\n')
  if (headEnd < 0) return null
  const [statusLine = '', ...lines] = data.subarray(0, headEnd).toString('latin1').split('\r\n')
  const status = Number(statusLine.split(' ')[1])
  if (!Number.isInteger(status)) return null
  const headers = lines.map((line): [string, string] => {
    const colon = line.indexOf(':')
    return [line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()]
  })
  const rest = data.subarray(headEnd + 4)
  const length = header(headers, 'content-length')
  const body =
    header(headers, 'transfer-encoding')?.toLowerCase() === 'chunked'
      ? dechunk(rest)
      : length !== undefined
        ? rest.subarray(0, Number(length))
        : rest
  return { status, headers, body }
}

const isEventStream = (answer: RawAnswer | null): boolean =>
  answer !== null &&
  answer.body.length > 0 &&
  header(answer.headers, 'content-type')?.startsWith('text/event-stream') === true

/**
 * Sends raw bytes to 127.0.0.1:`port` and reads until the server closes the connection: for
 * what a `fetch` Request cannot carry (binary header bytes, duplicate headers, broken framing).
 * Resolves `timedOut` when the server neither answers nor closes within `timeoutMs`; an event
 * stream resolves with its head and first bytes.
 *
 * @example
 * await rawRequest(port, Buffer.from('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'))
 */
export function rawRequest(
  port: number,
  bytes: Buffer,
  { ending = 'complete', timeoutMs }: { ending?: RawEnding; timeoutMs: number },
): Promise<{ answer: RawAnswer | null; timedOut: boolean }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    const socket = connect({ port, host: '127.0.0.1' })
    let done = false
    const finish = (timedOut: boolean) => {
      if (done) return
      done = true
      clearTimeout(timer)
      socket.destroy()
      resolve({ answer: parseAnswer(Buffer.concat(chunks)), timedOut })
    }
    const timer = setTimeout(() => finish(true), timeoutMs)
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk)
      // An event stream never ends by itself: its head and first event are the answer.
      if (isEventStream(parseAnswer(Buffer.concat(chunks)))) finish(false)
    })
    socket.on('close', () => finish(false))
    socket.on('error', () => finish(false))
    socket.on('connect', () => {
      socket.write(bytes)
      if (ending === 'half-close') socket.end()
      // Let the bytes reach the server's parser first, so the reset lands mid-request.
      if (ending === 'reset') setTimeout(() => socket.resetAndDestroy(), 5)
    })
  })
}
