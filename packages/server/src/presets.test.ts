import { beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { presets } from './presets.ts'
import { testApp } from './test-support/app.ts'
import { at, useFakeClock } from './test-support/clock.ts'
import { type TestDatabase, testDatabase } from './test-support/db.ts'

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

describe('presets', () => {
  let db: TestDatabase
  beforeAll(async () => {
    db = await testDatabase('PGlite')
  })
  beforeEach(() => db.reset())
  useFakeClock()

  it('aal2 (NIST SP 800-63B-4): 1 h idle, reauthentication after 24 h', async () => {
    expect(await limitsOf(db, presets.aal2)).toEqual({
      warnAfter: HOUR - 60,
      expireAfter: HOUR,
      maxAge: 24 * HOUR,
      idleEnd: 'idle',
      aliveBeforeMaxAge: true,
      maxAgeEnd: 'absolute',
    })
  })

  it('aal3 (NIST SP 800-63B-4): 15 min idle, reauthentication after 12 h', async () => {
    expect(await limitsOf(db, presets.aal3)).toEqual({
      warnAfter: 840,
      expireAfter: 900,
      maxAge: 12 * HOUR,
      idleEnd: 'idle',
      aliveBeforeMaxAge: true,
      maxAgeEnd: 'absolute',
    })
  })

  it('pci (PCI DSS 8.2.8): 15 min idle; the absolute limit stays the default 12 h', async () => {
    expect(await limitsOf(db, presets.pci)).toEqual({
      warnAfter: 840,
      expireAfter: 900,
      maxAge: 12 * HOUR,
      idleEnd: 'idle',
      aliveBeforeMaxAge: true,
      maxAgeEnd: 'absolute',
    })
  })

  it('spreads into createWard, and later keys still win (checked together, like any options)', async () => {
    const { login, call } = await testApp(db, {
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
