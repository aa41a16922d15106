// Whether the services the suite, the benches and the consumer test need are answering, and
// the CI rule: outside CI a part whose service is missing is skipped with a one-line reason;
// under CI (which starts every service) that reason is an error, so a green CI means every part
// ran. The probes are real (a query, a PING): a URL that is set but dead counts as missing.
import { MikroORM } from '@mikro-orm/core'
import { PostgreSqlDriver } from '@mikro-orm/postgresql'
import { Redis } from 'ioredis'
import { postgresAddress } from '../database.ts'
import { SessionEntity } from '../entity.ts'

// Ample for a service on this machine to answer under load; short enough to fail CI at once.
const PROBE_TIMEOUT = 5_000

/**
 * Whether this run is CI: `CI` set to anything but empty, `0` or `false` (`.ci/run` exports
 * `CI=1`, hosted runners `CI=true`).
 *
 * @example
 * isCi('true') // true
 * isCi('0') // false
 */
export function isCi(value: string | undefined): boolean {
  return value !== undefined && !['', '0', 'false'].includes(value.trim().toLowerCase())
}

/**
 * The CI rule for a part that needs a service: returns `reason` (the part is skipped and says
 * why) outside CI; under CI, where nothing may be skipped, throws it.
 *
 * @example
 * const skip = skipOutsideCi('PostgreSQL run', postgresSkipReason)
 * if (skip) console.log(`PostgreSQL run skipped: ${skip}`)
 */
export function skipOutsideCi<Reason extends string | null>(part: string, reason: Reason): Reason {
  if (reason !== null && isCi(process.env.CI)) {
    throw new Error(`under CI every part must run, but ${part} would be skipped: ${reason}`)
  }
  return reason
}

function failure(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error)
  return message.split('\n')[0] || 'no answer'
}

/**
 * Why PostgreSQL at `url` cannot be used (unset, or no answer to `select 1` within a few
 * seconds), or null when it answers. The reason names host, port and database, never the
 * credentials.
 *
 * @example
 * await postgresUnavailable(process.env.DATABASE_URL) // null, or 'DATABASE_URL is not set'
 */
export async function postgresUnavailable(url: string | undefined): Promise<string | null> {
  if (!url) return 'DATABASE_URL is not set'
  let where: string
  try {
    where = postgresAddress(url)
  } catch {
    return 'DATABASE_URL is not a postgres:// URL'
  }
  let orm: MikroORM | undefined
  try {
    orm = await MikroORM.init({
      driver: PostgreSqlDriver,
      clientUrl: url,
      entities: [SessionEntity],
      // A probe changes nothing: MikroORM would otherwise create a missing database.
      ensureDatabase: false,
      driverOptions: { connectionTimeoutMillis: PROBE_TIMEOUT },
    })
    await orm.em.getConnection().execute('select 1')
    return null
  } catch (error) {
    return `PostgreSQL at ${where} (DATABASE_URL) is not answering: ${failure(error)}`
  } finally {
    await orm?.close(true).catch(() => {})
  }
}

/**
 * Why Redis at `url` cannot be used (unset, or no PONG within a few seconds), or null when it
 * answers. The reason names host and port, never the password.
 *
 * @example
 * await redisUnavailable('redis://127.0.0.1:1') // 'Redis at 127.0.0.1:1 (REDIS_URL) is not answering: …'
 */
export async function redisUnavailable(url: string | undefined): Promise<string | null> {
  if (!url) return 'REDIS_URL is not set'
  let where: string
  try {
    const parsed = new URL(url)
    where = `${parsed.hostname || '127.0.0.1'}:${parsed.port || '6379'}`
  } catch {
    return 'REDIS_URL is not a redis:// URL'
  }
  // One attempt, no queue, no reconnect: the probe wants a yes or no, not a client that waits.
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: PROBE_TIMEOUT,
    commandTimeout: PROBE_TIMEOUT,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  })
  // The socket's error says why (ECONNREFUSED…); the rejected call only says "Connection is
  // closed". Handled here, ioredis does not print it as an unhandled event either.
  let cause: unknown
  redis.on('error', (error) => {
    cause ??= error
  })
  try {
    await redis.connect()
    const answer = await redis.ping()
    return answer === 'PONG' ? null : `Redis at ${where} (REDIS_URL) answered PING with ${answer}`
  } catch (error) {
    return `Redis at ${where} (REDIS_URL) is not answering: ${failure(cause ?? error)}`
  } finally {
    redis.disconnect()
  }
}
