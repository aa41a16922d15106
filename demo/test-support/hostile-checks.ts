import { getPath } from 'hono/utils/url'
import { findLeaks, maskLeaks } from '../../packages/server/src/test-support/leaks.ts'
import type { RawAnswer } from '../../packages/server/src/test-support/raw-http.ts'
import type { HostileRequest } from './hostile-requests.ts'

// The hostile-input suite's invariants on one answer (see docs/security.md, "Hostile input
// suite"), as pure functions of the request and what came back.

/** The route path as Hono matches it, or null for a target no URL parser accepts. */
export function routedPath(path: string): string | null {
  try {
    return getPath(new Request(`http://localhost${path}`))
  } catch {
    return null
  }
}

const underPrefix = (path: string, prefix: string) =>
  path === prefix || path.startsWith(`${prefix}/`)

/** Whether error answers at this path must be JSON: the ward's mounts and the demo's /api. */
function jsonErrorsAt(path: string): boolean {
  return (
    underPrefix(path, '/session') ||
    underPrefix(path, '/admin/sessions') ||
    path.startsWith('/api/')
  )
}

/** Decoded forms of what a client sent, where a route may legitimately echo it back. */
function echoable(path: string, body: Uint8Array | null): string {
  const forms = [
    path,
    Buffer.from(body ?? []).toString('latin1'),
    Buffer.from(body ?? []).toString('utf8'),
  ]
  for (const form of [...forms]) {
    try {
      forms.push(decodeURIComponent(form.replaceAll('+', ' ')))
    } catch {
      // Not decodable: the raw form above is what a route could echo.
    }
  }
  return forms.join('\n')
}

export interface Answer {
  status: number
  contentType: string
  body: string
}

/** What is wrong with one answer, or null. */
export function answerProblem(
  request: HostileRequest,
  path: string,
  answer: Answer,
  ms: number,
  boundMs: number,
): string | null {
  if (ms > boundMs) return `took ${Math.round(ms)} ms (bound ${boundMs} ms)`
  if (answer.status >= 500) return `answered ${answer.status}`
  const routed = routedPath(path)
  if (
    answer.status >= 400 &&
    routed !== null &&
    jsonErrorsAt(routed) &&
    request.method !== 'HEAD'
  ) {
    const accept = request.headers.filter(([name]) => name === 'accept').map(([, v]) => v)
    // Admin pages and the report link's pages answer a browser (Accept naming HTML) with an
    // HTML error page, by design.
    const htmlAllowed =
      (underPrefix(routed, '/admin/sessions') || routed === '/session/report') &&
      accept.some((v) => v.includes('html'))
    if (!(htmlAllowed && answer.contentType.startsWith('text/html'))) {
      let parsed: unknown
      try {
        parsed = JSON.parse(answer.body)
      } catch {
        return `error ${answer.status} at ${routed} is not JSON (${answer.contentType}): ${answer.body.slice(0, 80)}`
      }
      const { error, message, err, description } = (parsed ?? {}) as Record<string, unknown>
      if (!answer.contentType.startsWith('application/json')) {
        return `error ${answer.status} at ${routed} has Content-Type ${answer.contentType}`
      }
      // RFC 8935 §2.3: a refused security event answers {"err","description"}.
      const securityEventRefusal =
        routed === '/session/ssf' &&
        answer.status === 400 &&
        typeof err === 'string' &&
        typeof description === 'string'
      if (!securityEventRefusal && (typeof error !== 'string' || typeof message !== 'string')) {
        return `error ${answer.status} at ${routed} lacks {"error","message"}: ${answer.body.slice(0, 80)}`
      }
    }
  }
  let body = answer.body
  // The answers that issue a token carry it by design: the login and the token refresh.
  if (answer.status === 200 && routed !== null && /\/(api\/login|session\/token)$/.test(routed)) {
    const issued = (JSON.parse(body) as { token?: unknown }).token
    if (typeof issued === 'string') body = body.replaceAll(issued, '')
  }
  const sent = echoable(path, request.body)
  const leaked = findLeaks(body).filter((found) => !sent.includes(found))
  if (leaked.length > 0) return `answer holds a token or digest: ${maskLeaks(leaked.join(', '))}`
  return null
}

export function fromRaw(raw: RawAnswer): Answer {
  return {
    status: raw.status,
    contentType: raw.headers.find(([name]) => name === 'content-type')?.[1] ?? '',
    body: raw.body.toString('utf8'),
  }
}

/** Node's own answer to bytes its HTTP parser refuses, before any app code runs. */
export const isParserAnswer = (raw: RawAnswer) =>
  [400, 413, 414, 431].includes(raw.status) &&
  raw.body.length === 0 &&
  !raw.headers.some(([name]) => name === 'content-type')

/** A request as JSON for a report, long strings cut and tokens masked. */
export function shortJson(value: unknown): string {
  const json = JSON.stringify(value, (_key, v: unknown) => {
    if (v instanceof Uint8Array) return `<${v.length} bytes>`
    if (typeof v === 'string' && v.length > 120) return `${v.slice(0, 120)}…(${v.length} chars)`
    return v
  })
  return maskLeaks(json ?? String(value))
}
