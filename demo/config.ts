import type { DemoIdentityProvider } from './identity-provider.ts'

/** Everything the demo can be told; `createDemoApp` takes it, `configFromEnv` reads it. */
export interface DemoConfig {
  /** Omitted = PGlite in memory; a postgres:// URL = PostgreSQL; a directory = PGlite on disk. */
  database?: string
  /** A redis:// URL: the ward shares ends and activity with every other instance through it. */
  redisUrl?: string
  /**
   * Behind the cluster's own front (`npm run demo:cluster`): the client's address is the last
   * `X-Forwarded-For` entry, the one the front added. Off by default: a client can write that
   * header itself.
   */
  trustProxy?: boolean
  /** Seconds of inactivity before the warning (demo default 20). */
  warnAfter: number
  /** Seconds of inactivity before the session ends (demo default 30). */
  expireAfter: number
  /** Concurrent sessions per user; the oldest is evicted beyond it (demo default 3; 0 = no cap). */
  maxSessions: number
}

/** Where the demo listens, besides what the app itself needs. */
export interface ServerConfig extends DemoConfig {
  host: string
  port: number
  /** `OIDC_ISSUER`, `OIDC_CLIENT_ID`, `OIDC_CLIENT_SECRET`: sign in through that provider too. */
  identityProvider?: DemoIdentityProvider
}

/** The identity provider named by `OIDC_*`, all three or none. */
function identityProviderFromEnv(
  env: Record<string, string | undefined>,
): DemoIdentityProvider | undefined {
  const [issuer, clientId, clientSecret] = [
    'OIDC_ISSUER',
    'OIDC_CLIENT_ID',
    'OIDC_CLIENT_SECRET',
  ].map((name) => env[name]?.trim() || undefined)
  if (!issuer && !clientId && !clientSecret) return undefined
  if (!issuer || !clientId || !clientSecret) {
    throw new Error('demo: OIDC_ISSUER, OIDC_CLIENT_ID and OIDC_CLIENT_SECRET go together')
  }
  return { issuer, clientId, clientSecret }
}

/** The demo's defaults: short enough to see a warning and an expiry (DESIGN §5). */
export const DEMO_DEFAULTS = { warnAfter: 20, expireAfter: 30, maxSessions: 3 } as const

function number(env: Record<string, string | undefined>, name: string, fallback: number): number {
  const raw = env[name]
  if (raw === undefined || raw.trim() === '') return fallback
  const value = Number(raw)
  if (!Number.isFinite(value) || value < 0) {
    throw new Error(`demo: ${name} must be a number >= 0, got ${JSON.stringify(raw)}`)
  }
  return value
}

/**
 * Reads the demo's settings from the environment: `HOST`, `PORT`, `DATABASE_URL`, `REDIS_URL`,
 * `WARN_AFTER`, `EXPIRE_AFTER` (seconds), `MAX_SESSIONS`, `TRUST_PROXY` (`1`: behind the
 * cluster's front) and `OIDC_ISSUER`, `OIDC_CLIENT_ID`, `OIDC_CLIENT_SECRET` (an identity provider).
 *
 * @example
 * configFromEnv({ PORT: '4000', WARN_AFTER: '4', EXPIRE_AFTER: '8' })
 * // { host: '127.0.0.1', port: 4000, warnAfter: 4, expireAfter: 8, maxSessions: 3 }
 */
export function configFromEnv(env: Record<string, string | undefined> = process.env): ServerConfig {
  const port = number(env, 'PORT', 3000)
  if (!Number.isInteger(port) || port > 65_535) {
    throw new Error(`demo: PORT must be a port number, got ${JSON.stringify(env.PORT)}`)
  }
  const maxSessions = number(env, 'MAX_SESSIONS', DEMO_DEFAULTS.maxSessions)
  if (!Number.isInteger(maxSessions)) {
    throw new Error(
      `demo: MAX_SESSIONS must be a whole number, got ${JSON.stringify(env.MAX_SESSIONS)}`,
    )
  }
  const identityProvider = identityProviderFromEnv(env)
  return {
    host: env.HOST?.trim() || '127.0.0.1',
    port,
    database: env.DATABASE_URL?.trim() || undefined,
    redisUrl: env.REDIS_URL?.trim() || undefined,
    trustProxy: env.TRUST_PROXY?.trim() === '1',
    warnAfter: number(env, 'WARN_AFTER', DEMO_DEFAULTS.warnAfter),
    expireAfter: number(env, 'EXPIRE_AFTER', DEMO_DEFAULTS.expireAfter),
    maxSessions,
    ...(identityProvider ? { identityProvider } : {}),
  }
}

/** What `npm run demo:cluster` needs: where the front listens, one PostgreSQL and one Redis. */
export interface ClusterConfig {
  host: string
  port: number
  databaseUrl: string
  redisUrl: string
}

/**
 * Reads the cluster's settings (`HOST`, `PORT`, `DATABASE_URL`, `REDIS_URL`), or throws one line
 * saying what is missing and why: two processes cannot share PGlite in memory, and without Redis
 * an end on one instance would reach the other only when its cache expires.
 *
 * @example
 * clusterConfigFromEnv({ DATABASE_URL: 'postgres://127.0.0.1/app', REDIS_URL: 'redis://127.0.0.1' })
 * // { host: '127.0.0.1', port: 3000, databaseUrl: 'postgres://…', redisUrl: 'redis://…' }
 */
export function clusterConfigFromEnv(
  env: Record<string, string | undefined> = process.env,
): ClusterConfig {
  const { host, port, database, redisUrl } = configFromEnv(env)
  const missing = [
    /^postgres(ql)?:\/\//.test(database ?? '')
      ? null
      : 'DATABASE_URL (a postgres:// URL: two processes cannot share PGlite in memory)',
    /^rediss?:\/\//.test(redisUrl ?? '')
      ? null
      : 'REDIS_URL (a redis:// URL: ends reach the other instance through it)',
  ].filter((name) => name !== null)
  if (missing.length > 0 || !database || !redisUrl) {
    throw new Error(`demo:cluster needs ${missing.join(' and ')}`)
  }
  return { host, port, databaseUrl: database, redisUrl }
}
