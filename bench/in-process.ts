// Server CPU per request without sockets: @hono/node-server's own request listener fed real
// Node `IncomingMessage`/`ServerResponse` objects in process, so the figure holds the adapter,
// Hono and the middleware, and none of the kernel, the HTTP parser or the load generator (the
// same for every case, and on a shared 2-core machine most of the noise of the socket runs).
import { IncomingMessage, ServerResponse } from 'node:http'
import { Socket } from 'node:net'
import { getRequestListener } from '@hono/node-server'

type Listener = ReturnType<typeof getRequestListener>

/** A socket that takes every write and sends nothing. */
class NullSocket extends Socket {
  override write(...args: unknown[]): boolean {
    const done = args.findLast((arg) => typeof arg === 'function') as (() => void) | undefined
    done?.()
    return true
  }
}

/** The `headers` object Node builds from raw header lines (names lower-cased; no repeats here). */
function headersOf(rawHeaders: string[]): Record<string, string> {
  const headers: Record<string, string> = {}
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    headers[(rawHeaders[i] as string).toLowerCase()] = rawHeaders[i + 1] as string
  }
  return headers
}

// Answers other than 200: the measure is void if any case is refused (a missing header, say).
let failures = 0

/** One GET through `listener`, its header lines as raw [name, value, …]; resolves when sent. */
function serveOne(listener: Listener, socket: NullSocket, rawHeaders: string[]): Promise<void> {
  const request = new IncomingMessage(socket)
  request.method = 'GET'
  request.url = '/resource'
  request.httpVersion = '1.1'
  request.httpVersionMajor = 1
  request.httpVersionMinor = 1
  request.rawHeaders = rawHeaders
  // Node's parser has `headers` built from the raw list when first read; a request made by hand
  // has no parser count behind it, so the object is built here (for every case alike).
  request.headers = headersOf(rawHeaders)
  request.push(null)
  request.complete = true
  const response = new ServerResponse(request)
  response.assignSocket(socket)
  return new Promise((resolve) => {
    response.on('finish', () => {
      if (response.statusCode !== 200) failures++
      response.detachSocket(socket)
      resolve()
    })
    listener(request, response)
  })
}

export interface InProcessCase {
  fetch: (request: Request, env?: unknown) => Response | Promise<Response>
  /** The request's header lines, raw: [name, value, name, value, …]. */
  rawHeaders: string[]
}

/**
 * CPU time (user + system, µs) per request of each case, the cases taking turns in `rounds`
 * rounds of `batch` sequential requests (the first `warmup` rounds not counted): per case the
 * list of per-round figures, so ratios can be taken round by round.
 *
 * @example
 * const perRound = await cpuPerRequest({ a: { fetch: bare.fetch, rawHeaders } }, 400, 500)
 */
export async function cpuPerRequest(
  cases: Record<string, InProcessCase>,
  rounds: number,
  batch: number,
  warmup = 20,
): Promise<Record<string, number[]>> {
  const socket = new NullSocket()
  const listeners = Object.entries(cases).map(
    ([name, { fetch, rawHeaders }]) => [name, getRequestListener(fetch), rawHeaders] as const,
  )
  const figures: Record<string, number[]> = Object.fromEntries(
    listeners.map(([name]) => [name, [] as number[]]),
  )
  for (let round = 0; round < warmup + rounds; round++) {
    for (const [name, listener, rawHeaders] of listeners) {
      const start = process.cpuUsage()
      for (let i = 0; i < batch; i++) await serveOne(listener, socket, rawHeaders)
      const used = process.cpuUsage(start)
      if (round >= warmup) figures[name]?.push((used.user + used.system) / batch)
    }
  }
  socket.destroy()
  if (failures > 0) throw new Error(`in-process measure: ${failures} answers were not 200`)
  return figures
}
