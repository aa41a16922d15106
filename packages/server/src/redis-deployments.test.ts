import { Cluster } from 'ioredis'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import {
  call,
  type Instance,
  listen,
  login,
  type OwnRedisCluster,
  type OwnRedisSentinel,
  redisClusterSkipReason,
  startInstance,
  startRedisCluster,
  startRedisSentinel,
} from './test-support/instances.ts'
import { workerDatabase } from './test-support/postgres.ts'

// The `redis` option given the clients people run Redis with beyond one server: an ioredis
// Cluster client (a three-node Redis Cluster the test starts on private ports, instances that
// start from different nodes) and a client that finds its master through Sentinel. Within
// cacheTtl (60 s) only Redis can have told an instance of an end.

const skipped = redisClusterSkipReason ? ` (skipped: ${redisClusterSkipReason})` : ''
const CACHE_TTL = 60

/**
 * An end made on each instance in turn reaches the others: a `/session/events` stream on one
 * hears it, and the other refuses the token, both within half of cacheTtl.
 */
async function endsReachTheOthers(instances: Instance[], user: string): Promise<void> {
  for (const [index, ender] of instances.entries()) {
    const { token } = await login(ender, `${user}${index}`)
    const [streamed, other] = instances.filter((instance) => instance !== ender) as [
      Instance,
      Instance,
    ]
    const events = await listen(streamed, token)
    expect((await call(other, '/api/me', token)).status).toBe(200)
    const ended = Date.now()
    expect((await call(ender, '/session/logout', token, 'POST')).status).toBe(204)
    expect(await events.next()).toEqual({
      event: 'ended',
      data: JSON.stringify({ reason: 'logout' }),
    })
    let refused: Response
    do refused = await call(other, '/api/me', token)
    while (refused.status === 200 && Date.now() - ended < (CACHE_TTL * 1000) / 2)
    expect(refused.status).toBe(401)
    expect(await refused.json()).toMatchObject({ error: 'session_ended', reason: 'logout' })
  }
}

describe.skipIf(redisClusterSkipReason !== null)(
  `redis: Cluster and Sentinel clients${skipped}`,
  { timeout: 180_000 },
  () => {
    let databaseUrl: string
    const started: Instance[] = []
    const startAll = async (envs: NodeJS.ProcessEnv[]) => {
      const list = await Promise.all(
        envs.map((env) => startInstance(databaseUrl, null, { cacheTtl: CACHE_TTL }, env)),
      )
      started.push(...list)
      return list
    }

    beforeAll(async () => {
      databaseUrl = await workerDatabase('redis_deployments')
    })
    afterEach(async () => {
      await Promise.all(started.splice(0).map((instance) => instance.stop()))
    })

    describe('a three-node Redis Cluster', () => {
      let cluster: OwnRedisCluster
      beforeAll(async () => {
        cluster = await startRedisCluster()
      })
      afterAll(async () => {
        await cluster?.kill()
      })

      it('ends reach instances started from other nodes; activity is shared in the cluster', async () => {
        const trio = await startAll(cluster.nodes.map((node) => ({ REDIS_CLUSTER: node })))
        await endsReachTheOthers(trio, 'erin')
        // Activity moves at most once a second per session: a request a second after the login
        // is shared, and lands in the cluster's sorted set (on whichever node owns its slot).
        const { token } = await login(trio[0] as Instance, 'frank')
        await new Promise((resolve) => setTimeout(resolve, 1_100))
        expect((await call(trio[1] as Instance, '/api/me', token)).status).toBe(200)
        const [host, port] = (cluster.nodes[2] as string).split(':')
        const reader = new Cluster([{ host: host as string, port: Number(port) }])
        try {
          let shared = 0
          for (let looks = 0; shared === 0 && looks < 100; looks++) {
            shared = await reader.zcard('sessionward:v1:activity')
            if (shared === 0) await new Promise((resolve) => setTimeout(resolve, 100))
          }
          expect(shared).toBe(1)
        } finally {
          reader.disconnect()
        }
      })
    })

    describe('a master found through Sentinel', () => {
      let sentinel: OwnRedisSentinel
      beforeAll(async () => {
        sentinel = await startRedisSentinel()
      })
      afterAll(async () => {
        await sentinel?.kill()
      })

      it('ends reach every instance', async () => {
        const env = { REDIS_SENTINEL: `${sentinel.sentinel} ${sentinel.name}` }
        await endsReachTheOthers(await startAll([env, env, env]), 'grace')
      })
    })
  },
)
