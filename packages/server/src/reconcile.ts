import type { SessionPolicy } from './vocabulary.ts'

/** The largest `idleFor` a client may send: about 31 years; anything above is not a real idle time. */
export const MAX_IDLE_FOR = 1e9

/** The `/ping` answer, in whole seconds. */
export interface PingAnswer {
  idleFor: number
  warnAfter: number
  expireAfter: number
  expiresIn: number
}

/**
 * What `/ping` tells the client: its reconciled idle time, the limits in force for this user,
 * and the time left before the absolute end.
 *
 * @example
 * pingAnswer(lastActivityAt, expiresAt, Date.now(), policy)
 */
export function pingAnswer(
  lastActivityAt: number,
  expiresAt: number,
  now: number,
  policy: Pick<SessionPolicy, 'warnAfter' | 'expireAfter'>,
): PingAnswer {
  return {
    idleFor: Math.max(0, Math.floor((now - lastActivityAt) / 1000)),
    warnAfter: policy.warnAfter,
    expireAfter: policy.expireAfter,
    expiresIn: Math.max(0, Math.floor((expiresAt - now) / 1000)),
  }
}

/**
 * Validates a `/ping` body. Returns the idle seconds, or a message saying what is wrong.
 *
 * @example
 * parseIdleFor({ idleFor: 3 }) // { idleFor: 3 }
 */
export function parseIdleFor(body: unknown): { idleFor: number } | { message: string } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { message: 'body must be a JSON object like {"idleFor": 12}' }
  }
  const { idleFor } = body as { idleFor?: unknown }
  if (typeof idleFor !== 'number' || !Number.isFinite(idleFor)) {
    return { message: 'idleFor must be a finite number of seconds' }
  }
  if (idleFor < 0 || idleFor > MAX_IDLE_FOR) {
    return { message: `idleFor must be between 0 and ${MAX_IDLE_FOR} seconds` }
  }
  return { idleFor }
}
