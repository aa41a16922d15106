import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { MikroORM } from '@mikro-orm/core'
import { PostgreSqlDriver } from '@mikro-orm/postgresql'
import type { EntityManager } from '@mikro-orm/sql'
import { SessionEntity } from '@sessionward/server'
import { manyInstancesSkipReason } from '../../packages/server/src/test-support/instances.ts'
import { freshDatabase } from '../../packages/server/src/test-support/postgres.ts'
import { chromiumSkipReason } from './chromium.ts'

/** Why the cluster scenario is skipped (no Chromium, PostgreSQL or Redis), or null. */
export const clusterSkipReason = chromiumSkipReason ?? manyInstancesSkipReason

const CLUSTER = join(import.meta.dirname, '..', '..', 'demo', 'cluster.ts')
// Two Node processes boot, open PostgreSQL and Redis and migrate, on a loaded machine.
const START_TIMEOUT = 60_000

/** Drops the database `name` next to the one `baseUrl` names. */
async function dropDatabase(baseUrl: string, name: string): Promise<void> {
  const orm = await MikroORM.init({
    driver: PostgreSqlDriver,
    clientUrl: baseUrl,
    entities: [SessionEntity],
  })
  try {
    await (orm.em.fork() as EntityManager).execute(`drop database if exists "${name}" with (force)`)
  } finally {
    await orm.close(true)
  }
}

/** `npm run demo:cluster` as a child process, on a fresh database and a free port. */
export interface RunningCluster {
  /** The front's origin. */
  url: string
  /** Every line the cluster printed so far (its own and its instances'). */
  lines: string[]
  /** Stops the cluster (SIGTERM) and drops its database; resolves with its exit code. */
  close(): Promise<number | null>
}

/**
 * Starts `demo/cluster.ts` as `npm run demo:cluster` does, on its own fresh PostgreSQL database
 * made from DATABASE_URL, on REDIS_URL, with `PORT=0`, and waits for its front to listen.
 */
export async function startCluster(env: Record<string, string>): Promise<RunningCluster> {
  const base = String(process.env.DATABASE_URL)
  const name = `${new URL(base).pathname.slice(1) || 'postgres'}_cluster_${process.pid}`
  const databaseUrl = await freshDatabase(base, name)
  const child = spawn(process.execPath, ['--conditions=source', CLUSTER], {
    env: {
      ...process.env,
      ...env,
      HOST: '127.0.0.1',
      PORT: '0',
      DATABASE_URL: databaseUrl,
      REDIS_URL: String(process.env.REDIS_URL),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
  const lines: string[] = []
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`the cluster did not start in ${START_TIMEOUT} ms:\n${lines.join('\n')}`))
    }, START_TIMEOUT)
    for (const output of [child.stdout, child.stderr]) {
      let partial = ''
      output.on('data', (chunk: Buffer) => {
        const text = (partial + chunk.toString()).split('\n')
        partial = text.pop() ?? ''
        for (const line of text) {
          lines.push(line)
          const front = /demo cluster on (http:\/\/127\.0\.0\.1:\d+)/.exec(line)?.[1]
          if (front) {
            clearTimeout(timer)
            resolve(front)
          }
        }
      })
    }
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`the cluster exited (${code}):\n${lines.join('\n')}`))
    })
  }).catch(async (error) => {
    child.kill('SIGTERM')
    await exited
    throw error
  })
  return {
    url,
    lines,
    close: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
      const code = await exited
      await dropDatabase(base, name)
      return code
    },
  }
}
