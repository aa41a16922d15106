import { REQUEST_TIMEOUT, type ServerView } from './machine.ts'
import { type HeadersOption, isObject, isTime } from './options.ts'

/** What a ping came back with: the machine's event for it, but for the times (ward-network.ts). */
export type PingOutcome =
  | { type: 'answer'; view: ServerView }
  /** 401: the server has ended the session (or never knew it). */
  | { type: 'ended'; reason: string }
  /** Network error, timeout, 5xx, or an answer that is not the JSON we expect: retry later. */
  | { type: 'unreachable' }

export interface Server {
  ping(idleFor: number): Promise<PingOutcome>
  /**
   * Sends the logout request once. True when it is settled: the server ended the session (2xx)
   * or knows it dead (401), or another attempt would get the same answer (another 4xx, no
   * `logoutUrl`). False when it should be retried: network error, timeout, 5xx.
   */
  logout(): Promise<boolean>
}

export interface ServerOptions {
  pingUrl: string
  logoutUrl?: string | null
  headers: HeadersOption
  fetch: typeof fetch
}

export { REQUEST_TIMEOUT }

/** Seconds from the server as milliseconds, or undefined when not a usable duration. */
function duration(value: unknown): number | undefined {
  // Seconds that are finite may still not be as milliseconds (1e308).
  return isTime(value) && value >= 0 && isTime(value * 1000) ? value * 1000 : undefined
}

/** The `headers` option, evaluated now so that a refreshed token is picked up. */
export const headersFrom = async (option: HeadersOption): Promise<Headers> =>
  new Headers(typeof option === 'function' ? await option() : option)

/** The `reason` of a session end the server reported, `unauthenticated` when it gave none. */
export const endReason = (body: unknown): string =>
  isObject(body) && typeof body.reason === 'string' ? body.reason : 'unauthenticated'

/**
 * Turns a ping response into an outcome. Nothing the server sends can throw here: fields that
 * are missing, negative, non-finite or inconsistent are simply unknown.
 * @example
 * readPing(200, { idleFor: 3, warnAfter: 20, expireAfter: 30, expiresIn: 3600 }).type // 'answer'
 * readPing(401, { error: 'session_ended', reason: 'revoked' }) // { type: 'ended', reason: 'revoked' }
 */
export function readPing(status: number, body: unknown): PingOutcome {
  if (status === 401) {
    // Not a session the server ended (a proxy's 401, `unauthenticated`): no reason, so
    // endReason answers `unauthenticated`.
    const ended = isObject(body) && body.error === 'session_ended'
    return { type: 'ended', reason: endReason(ended && body) }
  }
  if (status < 200 || status > 299 || !isObject(body)) return { type: 'unreachable' }
  // A field the server did not tell (or not usably) is there as undefined: unknown.
  const view: { [Field in keyof ServerView]?: number } = {
    idleFor: duration(body.idleFor),
    expiresIn: duration(body.expiresIn),
  }
  // The thresholds are set together or not at all, as ServerView says: one the server did not
  // tell is 0 here, which fails the check.
  const warnAfter = duration(body.warnAfter) ?? 0
  const expireAfter = duration(body.expireAfter) ?? 0
  if (0 < warnAfter && warnAfter < expireAfter) {
    view.warnAfter = warnAfter
    view.expireAfter = expireAfter
  }
  return { type: 'answer', view: view as ServerView }
}

/**
 * The two requests the ward makes. Cookies go along (`credentials: 'same-origin'`), plus the
 * `headers` option, evaluated per request so a refreshed token is picked up.
 * @example
 * const server = connect({ pingUrl: '/session/ping', logoutUrl: null, headers: {}, fetch })
 * const outcome = await server.ping(12_000) // sends {"idleFor":12}
 */
export function connect(options: ServerOptions): Server {
  /**
   * Sends a POST and reads the answer, all within REQUEST_TIMEOUT. A request that fails (network
   * error, timeout, a `headers` function that throws) answers as a server error: retried later.
   */
  async function send(url: string, init: RequestInit): Promise<[status: number, body?: unknown]> {
    const abort = new AbortController()
    const timer = setTimeout(() => abort.abort(), REQUEST_TIMEOUT)
    try {
      const headers = await headersFrom(options.headers)
      if (init.body) headers.set('Content-Type', 'application/json')
      const response = await options.fetch(url, {
        ...init,
        method: 'POST',
        headers,
        credentials: 'same-origin',
        signal: abort.signal,
      })
      // A body that is no JSON is as good as none.
      return [response.status, await response.json().catch(() => undefined)]
    } catch {
      return [500]
    } finally {
      clearTimeout(timer)
    }
  }
  return {
    async ping(idleFor) {
      const body = JSON.stringify({ idleFor: Math.max(0, Math.round(idleFor)) / 1000 })
      return readPing(...(await send(options.pingUrl, { body })))
    },
    async logout() {
      if (!options.logoutUrl) return true
      // keepalive: the request must outlive the navigation that follows it.
      const [status] = await send(options.logoutUrl, { keepalive: true })
      return status < 500
    },
  }
}
