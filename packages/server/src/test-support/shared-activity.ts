import { expect } from 'vitest'
import { call, type Instance, login } from './instances.ts'

// A check both buses share (many-instances.test.ts for Redis, postgres-bus.test.ts): kept apart
// from instances.ts, which the benches and the consumer test import outside Vitest.

// Rows are written at most every 4 s (expireAfter / 4): activity seen 3 s after the login is in
// no row, so a database alone would call the session idle at 16 s.
const SHARED_EXPIRE_AFTER = 16

/** Options for `expectActivityOnBCountsOnA`: activity written every 4 s, idle at 16 s. */
export const SHARED_ACTIVITY = {
  warnAfter: 10,
  expireAfter: SHARED_EXPIRE_AFTER,
  touchInterval: 4,
  cacheTtl: 60,
}

/**
 * Activity seen only on B (3 s after a login on A, in no row yet) keeps A from ending the
 * session idle past 16 s from the login: the bus shared it. Both instances run SHARED_ACTIVITY.
 */
export async function expectActivityOnBCountsOnA(
  a: Instance,
  b: Instance,
  user: string,
): Promise<void> {
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
  for (let attempt = 1; ; attempt++) {
    const { token } = await login(a, `${user}${attempt}`)
    const loggedIn = Date.now()
    await sleep(3_000)
    const onB = Date.now()
    expect((await call(b, '/api/me', token)).status).toBe(200)
    await sleep(Math.max(0, loggedIn + SHARED_EXPIRE_AFTER * 1000 + 500 - Date.now()))
    const answer = await call(a, '/api/me', token)
    if (Date.now() >= onB + SHARED_EXPIRE_AFTER * 1000) {
      // This machine was too slow for the window the thresholds give: try again.
      expect(attempt).toBeLessThan(4)
      continue
    }
    expect(answer.status).toBe(200)
    return
  }
}
