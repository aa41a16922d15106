import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { WardOptions } from '../options.ts'
import { CHROME_120 } from './browsers.ts'
import { postgresSkipReason } from './postgres.ts'
import { redisUnavailable } from './services.ts'
import { EventReader } from './sse.ts'

const WARD_PROCESS = fileURLToPath(new URL('./ward-process.ts', import.meta.url))
// Generous: a Node process boots, opens PostgreSQL and migrates on a loaded machine.
const START_TIMEOUT = 60_000

/**
 * Why the tests on Redis are skipped (REDIS_URL unset, or Redis not answering PING on it), or
 * null when they run. Under CI a reason fails the run (test-skips.ts).
 */
export const redisSkipReason = await redisUnavailable(process.env.REDIS_URL)

/** Why the many-instance tests (PostgreSQL and Redis) are skipped, or null when they run. */
export const manyInstancesSkipReason = postgresSkipReason ?? redisSkipReason

/**
 * Why the Redis Cluster test is skipped (it starts its own cluster with redis-server and
 * redis-cli on private ports), or null when it runs.
 */
export const redisClusterSkipReason =
  manyInstancesSkipReason ??
  (['redis-server', 'redis-cli'].find((tool) => spawnSync(tool, ['--version']).status !== 0)
    ? 'redis-server or redis-cli is not installed'
    : null)

/** A child process whose output lines are kept and can be waited for. */
class Watched {
  readonly lines: string[] = []
  readonly #child: ChildProcess
  #waiters: { pattern: RegExp; resolve: (line: string) => void }[] = []

  constructor(child: ChildProcess) {
    this.#child = child
    let partial = ''
    const take = (chunk: Buffer) => {
      const text = partial + chunk.toString()
      const lines = text.split('\n')
      partial = lines.pop() ?? ''
      for (const line of lines) this.#line(line)
    }
    child.stdout?.on('data', take)
    child.stderr?.on('data', take)
  }

  #line(line: string): void {
    this.lines.push(line)
    this.#waiters = this.#waiters.filter((waiter) => {
      if (!waiter.pattern.test(line)) return true
      waiter.resolve(line)
      return false
    })
  }

  /** The first line (already printed or to come) matching `pattern`. */
  waitFor(pattern: RegExp, timeout = START_TIMEOUT): Promise<string> {
    const seen = this.lines.find((line) => pattern.test(line))
    if (seen) return Promise.resolve(seen)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`no line matching ${pattern} in ${timeout} ms:\n${this.lines.join('\n')}`))
      }, timeout)
      this.#waiters.push({
        pattern,
        resolve: (line) => {
          clearTimeout(timer)
          resolve(line)
        },
      })
    })
  }

  count(pattern: RegExp): number {
    return this.lines.filter((line) => pattern.test(line)).length
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return
    const exited = new Promise((resolve) => this.#child.once('exit', resolve))
    this.#child.kill(signal)
    await exited
  }
}

/** A ward instance in its own process (test-support/ward-process.ts). */
export interface Instance extends Pick<Watched, 'lines' | 'waitFor' | 'count' | 'stop'> {
  url: string
}

/**
 * Starts a ward instance on `databaseUrl` (and `redisUrl` when given) with `options`; `env`
 * adds to its environment (`REDIS_CLUSTER`: see ward-process.ts).
 */
export async function startInstance(
  databaseUrl: string,
  redisUrl: string | null,
  options: WardOptions = {},
  env: NodeJS.ProcessEnv = {},
): Promise<Instance> {
  env = {
    ...process.env,
    ...env,
    DATABASE_URL: databaseUrl,
    WARD_OPTIONS: JSON.stringify(options),
  }
  if (redisUrl) env.REDIS_URL = redisUrl
  else delete env.REDIS_URL
  const child = spawn(process.execPath, ['--conditions=source', WARD_PROCESS], { env })
  const watched = new Watched(child)
  let port: string
  try {
    port = (await watched.waitFor(/^listening \d+$/)).split(' ')[1] as string
  } catch (error) {
    await watched.stop('SIGKILL')
    throw error
  }
  return {
    url: `http://127.0.0.1:${port}`,
    lines: watched.lines,
    waitFor: (pattern, timeout) => watched.waitFor(pattern, timeout),
    count: (pattern) => watched.count(pattern),
    stop: (signal) => watched.stop(signal),
  }
}

/** A Redis Cluster of the test's own: three masters on private ports, nothing on disk to keep. */
export interface OwnRedisCluster {
  /** `host:port` of each node. */
  nodes: string[]
  kill(): Promise<void>
}

/**
 * Starts three `redis-server --cluster-enabled yes` nodes on free ports (their cluster bus on
 * free ports too), joins them with `redis-cli --cluster create`, and waits until every node
 * says the cluster is ok.
 */
export async function startRedisCluster(): Promise<OwnRedisCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'sessionward-cluster-'))
  const servers: Watched[] = []
  const nodes: string[] = []
  const kill = async () => {
    await Promise.all(servers.map((server) => server.stop('SIGKILL')))
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    for (let i = 0; i < 3; i++) {
      const [port, busPort] = [await freePort(), await freePort()]
      const server = new Watched(
        spawn('redis-server', [
          ...['--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes'],
          ...['--cluster-port', String(busPort), '--cluster-config-file', `nodes-${port}.conf`],
          ...['--dir', dir, '--save', '', '--appendonly', 'no'],
        ]),
      )
      servers.push(server)
      await server.waitFor(/Ready to accept connections/)
      nodes.push(`127.0.0.1:${port}`)
    }
    const created = spawnSync('redis-cli', ['--cluster', 'create', ...nodes, '--cluster-yes'])
    if (created.status !== 0) throw new Error(`redis-cli --cluster create: ${created.stdout}`)
    for (const node of nodes) {
      const [host, port] = node.split(':') as [string, string]
      for (;;) {
        const info = spawnSync('redis-cli', ['-h', host, '-p', port, 'cluster', 'info'])
        if (String(info.stdout).includes('cluster_state:ok')) break
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
    }
  } catch (error) {
    await kill()
    throw error
  }
  return { nodes, kill }
}

/** A Redis master of the test's own watched by one Sentinel, which clients ask for the master. */
export interface OwnRedisSentinel {
  /** `host:port` of the Sentinel. */
  sentinel: string
  /** The name the Sentinel knows the master by. */
  name: string
  kill(): Promise<void>
}

/** Starts a Redis master (see `startRedis`) and one Sentinel on free ports that monitors it. */
export async function startRedisSentinel(): Promise<OwnRedisSentinel> {
  const master = await startRedis()
  const dir = mkdtempSync(join(tmpdir(), 'sessionward-sentinel-'))
  const port = await freePort()
  const name = 'sessionward'
  const config = join(dir, 'sentinel.conf')
  const masterPort = new URL(master.url).port
  writeFileSync(
    config,
    `port ${port}\nbind 127.0.0.1\ndir ${dir}\nsentinel monitor ${name} 127.0.0.1 ${masterPort} 1\n`,
  )
  const sentinel = new Watched(spawn('redis-server', [config, '--sentinel']))
  const kill = async () => {
    await sentinel.stop('SIGKILL')
    await master.kill()
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    await sentinel.waitFor(/\+monitor master/)
  } catch (error) {
    await kill()
    throw error
  }
  return { sentinel: `127.0.0.1:${port}`, name, kill }
}

/** A port nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0))
    })
  })
}

/** A Redis server of the test's own (nothing on disk), which the test may kill and restart. */
export interface OwnRedis {
  url: string
  kill(): Promise<void>
  restart(): Promise<void>
}

export async function startRedis(): Promise<OwnRedis> {
  const port = await freePort()
  let server: Watched | null = null
  const start = async () => {
    const child = spawn('redis-server', [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
    ])
    server = new Watched(child)
    await server.waitFor(/Ready to accept connections/)
  }
  await start()
  return {
    url: `redis://127.0.0.1:${port}`,
    kill: async () => {
      await server?.stop('SIGKILL')
    },
    restart: start,
  }
}

/** A request to an instance with a Bearer token. */
export function call(
  instance: Pick<Instance, 'url'>,
  path: string,
  token?: string,
  method = 'GET',
  body?: unknown,
): Promise<Response> {
  return fetch(`${instance.url}${path}`, {
    method,
    headers: {
      'user-agent': CHROME_120,
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body ? { 'content-type': 'application/json' } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  })
}

/** Signs `userId` in on an instance (test-support/ward-process.ts's /login). */
export async function login(
  instance: Pick<Instance, 'url'>,
  userId: string,
): Promise<{ token: string; id: string }> {
  const response = await call(instance, '/login', undefined, 'POST', { userId })
  if (response.status !== 200) throw new Error(`login failed: ${response.status}`)
  return (await response.json()) as { token: string; id: string }
}

/** Opens `/session/events` on an instance and reads its first (`policy`) event. */
export async function listen(instance: Pick<Instance, 'url'>, token: string): Promise<EventReader> {
  const events = new EventReader(await call(instance, '/session/events', token))
  const first = await events.next()
  if (first?.event !== 'policy') throw new Error(`expected a policy event, got ${first?.event}`)
  return events
}
