import { afterEach, beforeEach, vi } from 'vitest'

/** The fake clock's start: every test that fakes time begins here. */
export const START = Date.parse('2026-11-23T09:00:00Z')

/** Moves the fake clock to `seconds` after START. */
export function at(seconds: number): void {
  vi.setSystemTime(START + seconds * 1000)
}

/**
 * Fakes `Date` (only: the databases keep their real timers) from START for every test of the
 * enclosing block.
 */
export function useFakeClock(): void {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] })
    at(0)
  })
  afterEach(() => {
    vi.useRealTimers()
  })
}
