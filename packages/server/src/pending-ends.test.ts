import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { type PendingEnd, PendingEnds } from './pending-ends.ts'

// The retry loop's timing and bounds, on a fake clock; faults.test.ts shows the same loop
// against a real PostgreSQL that the test cuts and stalls.
describe('PendingEnds: ends kept while the store is out', () => {
  let storeUp: boolean
  let tried: { at: number; end: PendingEnd }[]
  let warnings: string[]
  const logout = (id: string): PendingEnd => ({
    target: { ids: [id] },
    reason: 'logout',
    endedAt: new Date(0),
  })
  const make = (max = 100) =>
    new PendingEnds({
      max,
      minDelay: 500,
      maxDelay: 5_000,
      warn: (message) => void warnings.push(message),
      end: async (end) => {
        tried.push({ at: Date.now(), end })
        if (!storeUp) throw new Error('store unavailable')
      },
    })

  beforeEach(() => {
    vi.useFakeTimers({ now: 0 })
    storeUp = false
    tried = []
    warnings = []
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it('retries the oldest end with a doubling wait bounded by maxDelay, then drains them all in order', async () => {
    const pending = make()
    pending.add('hash:a', logout('a'))
    pending.add('hash:b', logout('b'))
    await vi.advanceTimersByTimeAsync(20_000)
    // While the store is out, one probe per wait, never the whole set.
    expect(tried.every(({ end }) => end.target === pending.end('hash:a')?.target)).toBe(true)
    const waits = tried.map(({ at }, i) => at - (tried[i - 1]?.at ?? 0))
    expect(waits.slice(0, 6)).toEqual([500, 1_000, 2_000, 4_000, 5_000, 5_000])

    storeUp = true
    tried = []
    await vi.advanceTimersByTimeAsync(5_000)
    expect(tried.map(({ end }) => end)).toEqual([logout('a'), logout('b')])
    expect(pending.size).toBe(0)
    // Drained: the next outage starts again from the shortest wait.
    storeUp = false
    tried = []
    pending.add('hash:c', logout('c'))
    await vi.advanceTimersByTimeAsync(500)
    expect(tried).toHaveLength(1)
  })

  it('keeps at most max ends, says so once per outage, and never grows past it', async () => {
    const pending = make(3)
    const kept = ['a', 'b', 'c', 'd', 'e'].map((id) => pending.add(`hash:${id}`, logout(id)))
    expect(kept).toEqual([true, true, true, false, false])
    expect(pending.size).toBe(3)
    // The same end added again (a retried logout) takes no new place.
    expect(pending.add('hash:a', logout('a'))).toBe(true)
    expect(warnings).toEqual([
      'sessionward: 3 session ends are already waiting for the store; further ends during this outage are not kept for retrying',
    ])

    storeUp = true
    await vi.advanceTimersByTimeAsync(500)
    expect(pending.size).toBe(0)
    storeUp = false
    for (const id of ['f', 'g', 'h', 'i']) pending.add(`hash:${id}`, logout(id))
    expect(warnings).toHaveLength(2)
  })

  it('flush stores one end now: it throws while the store is out and forgets the end once stored', async () => {
    const pending = make()
    pending.add('hash:a', logout('a'))
    await expect(pending.flush('hash:a')).rejects.toThrow('store unavailable')
    expect(pending.end('hash:a')).toEqual(logout('a'))
    storeUp = true
    await expect(pending.flush('hash:a')).resolves.toBe(true)
    expect(pending.end('hash:a')).toBeUndefined()
    await expect(pending.flush('hash:unknown')).resolves.toBe(true)
    expect(pending.clear()).toBe(0)
  })
})
