import { afterEach, describe, expect, it, vi } from 'vitest'
import { freePort } from './instances.ts'
import { isCi, postgresUnavailable, redisUnavailable, skipOutsideCi } from './services.ts'

describe('issue 26: under CI a part that needs a missing service fails instead of skipping', () => {
  afterEach(() => {
    vi.unstubAllEnvs()
  })

  it.each([
    ['1', true],
    ['true', true],
    ['yes', true],
    ['', false],
    ['0', false],
    ['false', false],
    ['FALSE', false],
    [undefined, false],
  ])('CI=%j is CI: %s', (value, expected) => {
    expect(isCi(value)).toBe(expected)
  })

  it('outside CI a skip reason is returned, to be printed in one line', () => {
    vi.stubEnv('CI', '')
    expect(skipOutsideCi('the PostgreSQL run', 'DATABASE_URL is not set')).toBe(
      'DATABASE_URL is not set',
    )
    expect(skipOutsideCi('the PostgreSQL run', null)).toBeNull()
  })

  it('under CI a skip reason is an error naming the part and the reason', () => {
    vi.stubEnv('CI', 'true')
    expect(() => skipOutsideCi('the PostgreSQL run', 'DATABASE_URL is not set')).toThrow(
      'under CI every part must run, but the PostgreSQL run would be skipped: DATABASE_URL is not set',
    )
    expect(skipOutsideCi('the PostgreSQL run', null)).toBeNull()
  })

  it('a Redis URL nothing listens on is a reason naming Redis, its address and not its password', async () => {
    const port = await freePort()
    const reason = await redisUnavailable(`redis://:hunter2@127.0.0.1:${port}`)
    expect(reason).toMatch(
      new RegExp(
        `^Redis at 127\\.0\\.0\\.1:${port} \\(REDIS_URL\\) is not answering: .*ECONNREFUSED`,
      ),
    )
    expect(reason).not.toContain('hunter2')
    expect(await redisUnavailable(undefined)).toBe('REDIS_URL is not set')
  })

  it('a PostgreSQL URL nothing listens on is a reason naming PostgreSQL, not the password', async () => {
    const port = await freePort()
    const reason = await postgresUnavailable(`postgres://app:hunter2@127.0.0.1:${port}/app`)
    expect(reason).toMatch(
      new RegExp(
        `^PostgreSQL at 127\\.0\\.0\\.1:${port}/app \\(DATABASE_URL\\) is not answering: .*ECONNREFUSED`,
      ),
    )
    expect(reason).not.toContain('hunter2')
    expect(await postgresUnavailable(undefined)).toBe('DATABASE_URL is not set')
  })
})
