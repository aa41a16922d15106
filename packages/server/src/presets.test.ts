import { describe, expect, it } from 'vitest'
import { presets } from './presets.ts'
import { testApp } from './test-support/app.ts'
import { at, useFakeClock } from './test-support/clock.ts'
import { pgliteForEachTest, type TestDatabase } from './test-support/db.ts'

const HOUR = 3600

/**
 * What a ward built from `preset` enforces on a session: the thresholds its ping answers with,
 * the idle time after which a request is refused, and the lifetime an active session gets.
 */
async function limitsOf(db: TestDatabase, preset: object) {
  const { login, call } = await testApp(db, preset)
  const ping = async (token: string) => {
    const response = await call('/session/ping', {
      method: 'POST',
      token,
      body: JSON.stringify({ idleFor: 0 }),
    })
    return { status: response.status, body: await response.json() }
  }
  at(0)
  const idle = await login('idle-user')
  const { body } = await ping(idle.token)
  // Idle: the last request at 0; just past expireAfter the session ends as idle.
  at(body.expireAfter + 1)
  const afterIdle = await ping(idle.token)
  // Active: a request every quarter of the idle limit, up to the absolute end and past it.
  at(0)
  const active = await login('active-user')
  const maxAge = (await ping(active.token)).body.expiresIn
  for (let t = body.expireAfter / 4; t < maxAge; t += body.expireAfter / 4) {
    at(t)
    if ((await ping(active.token)).status !== 200) throw new Error(`ended early, at ${t} s`)
  }
  at(maxAge - 1)
  const beforeEnd = await ping(active.token)
  at(maxAge + 1)
  const afterEnd = await ping(active.token)
  return {
    warnAfter: body.warnAfter,
    expireAfter: body.expireAfter,
    maxAge,
    idleEnd: afterIdle.body.reason,
    aliveBeforeMaxAge: beforeEnd.status === 200,
    maxAgeEnd: afterEnd.body.reason,
  }
}

const PRESETS = [
  [
    'aal2 (NIST SP 800-63B-4): 1 h idle, reauthentication after 24 h',
    presets.aal2,
    HOUR,
    24 * HOUR,
  ],
  [
    'aal3 (NIST SP 800-63B-4): 15 min idle, reauthentication after 12 h',
    presets.aal3,
    900,
    12 * HOUR,
  ],
  // PCI DSS names no absolute limit: the default 12 h stays.
  ['pci (PCI DSS 8.2.8): 15 min idle', presets.pci, 900, 12 * HOUR],
] as const

describe('presets', () => {
  const database = pgliteForEachTest()
  useFakeClock()

  it.each(PRESETS)('%s', async (_name, preset, expireAfter, maxAge) => {
    expect(await limitsOf(database(), preset)).toEqual({
      // The warning comes one minute before the idle end.
      warnAfter: expireAfter - 60,
      expireAfter,
      maxAge,
      idleEnd: 'idle',
      aliveBeforeMaxAge: true,
      maxAgeEnd: 'absolute',
    })
  })

  it('spreads into createWard, and later keys still win (checked together, like any options)', async () => {
    const { login, call } = await testApp(database(), {
      ...presets.aal2,
      warnAfter: 1740,
      expireAfter: 1800,
    })
    const { token } = await login('alice')
    const response = await call('/session/ping', {
      method: 'POST',
      token,
      body: JSON.stringify({ idleFor: 0 }),
    })
    expect(await response.json()).toMatchObject({ expireAfter: 1800, expiresIn: 24 * HOUR })
  })
})
