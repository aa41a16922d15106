import { WardOptionsError } from './errors.ts'

export function fail(message: string): never {
  throw new WardOptionsError(message)
}

// Says what a wrong value is without echoing objects (a key, a connection) into an error.
export function describe(value: unknown): string {
  if (typeof value === 'string') return `the string ${JSON.stringify(value)}`
  if (typeof value === 'function') return 'a function'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'object' && value !== null) return 'an object'
  return String(value)
}

/**
 * Throws a `WardOptionsError` unless `value` is exactly an http(s) origin, as browsers send it
 * in `Origin` (`scheme://host[:port]`, lowercase, no default port, no path, no trailing slash):
 * a near miss would never match, so every cookie request would be refused. Says which origin
 * was likely meant.
 *
 * @example
 * assertOrigin('https://app.example/', 'origin') // throws: … — did you mean "https://app.example"?
 */
export function assertOrigin(value: unknown, name: string): void {
  const url = typeof value === 'string' ? URL.parse(value) : null
  const origin = url && /^https?:$/.test(url.protocol) ? url.origin : null
  if (origin !== null && origin === value) return
  fail(
    `${name} must be an origin like "https://app.example" (scheme://host[:port], no path), got ${describe(value)}` +
      (origin === null ? '' : ` — did you mean ${JSON.stringify(origin)}?`),
  )
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * Throws a `WardOptionsError` unless `value` is an object whose keys are all in `known`; an
 * unknown key is named with the closest known one when a typo is likely.
 *
 * @example
 * assertKnownKeys({ secrte: 'x' }, ['secret', 'kid'], 'jwt') // throws: jwt: unknown option "secrte" — did you mean "secret"?
 */
export function assertKnownKeys(value: unknown, known: readonly string[], where: string): void {
  if (!isRecord(value)) fail(`${where || 'options'} must be an object, got ${describe(value)}`)
  const prefix = where ? `${where}: ` : ''
  for (const key of Object.keys(value)) {
    if (known.includes(key)) continue
    const near = closest(key, known)
    fail(
      near === undefined
        ? `${prefix}unknown option ${JSON.stringify(key)} (known: ${known.join(', ')})`
        : `${prefix}unknown option ${JSON.stringify(key)} — did you mean ${JSON.stringify(near)}?`,
    )
  }
}

/** The known name a typo most likely meant: within a third of its length in edits, case aside. */
function closest(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined
  let bestDistance = Math.max(1, Math.floor(key.length / 3)) + 1
  for (const name of known) {
    const distance = editDistance(key.toLowerCase(), name.toLowerCase())
    if (distance < bestDistance) {
      best = name
      bestDistance = distance
    }
  }
  return best
}

/** Edits (insert, delete, substitute, swap two neighbours) that turn `a` into `b`. */
function editDistance(a: string, b: string): number {
  // rows[i][j]: distance between the first i characters of a and the first j of b.
  const rows = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  )
  const at = (i: number, j: number) => rows[i]?.[j] ?? Number.POSITIVE_INFINITY
  for (let i = 1; i <= a.length; i++) {
    const row = rows[i] as number[]
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let distance = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        distance = Math.min(distance, at(i - 2, j - 2) + 1)
      }
      row[j] = distance
    }
  }
  return at(a.length, b.length)
}
