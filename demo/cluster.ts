// `npm run demo:cluster`: two demo instances (separate Node processes on PORT+1 and PORT+2) on
// one PostgreSQL and one Redis, behind a round-robin front on HOST:PORT that prints which
// instance served each request. See docs/demo-and-e2e.md ("Watch it on two instances").
import { type ChildProcess, spawn } from 'node:child_process'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { type ClusterConfig, clusterConfigFromEnv } from './config.ts'
import { createFront, type Forwarded } from './front.ts'

const INSTANCES = 2
const SERVER = join(import.meta.dirname, 'server.ts')

let config: ClusterConfig
try {
  config = clusterConfigFromEnv()
} catch (error) {
  console.error((error as Error).message)
  process.exit(1)
}

const children: ChildProcess[] = []
let front: Server | null = null
let stopping = false

/** Prints a child's output line by line, prefixed with its number, and hands each line on. */
function relay(child: ChildProcess, number: number, onLine: (line: string) => void): void {
  for (const output of [child.stdout, child.stderr]) {
    let partial = ''
    output?.on('data', (chunk: Buffer) => {
      const lines = (partial + chunk.toString()).split('\n')
      partial = lines.pop() ?? ''
      for (const line of lines) {
        console.info(`[${number}] ${line}`)
        onLine(line)
      }
    })
  }
}

/** Starts instance `number` and resolves with its URL once it serves. */
function startInstance(number: number): Promise<string> {
  const child = spawn(process.execPath, ['--conditions=source', SERVER], {
    env: {
      ...process.env,
      // Only the front is reachable from outside; the instances listen on loopback.
      HOST: '127.0.0.1',
      // PORT 0 (any free port, as the e2e suite asks) stays 0 for every instance.
      PORT: String(config.port === 0 ? 0 : config.port + number),
      DATABASE_URL: config.databaseUrl,
      REDIS_URL: config.redisUrl,
      // The instance takes the client's address from the front's X-Forwarded-For entry.
      TRUST_PROXY: '1',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  children.push(child)
  child.once('exit', (code, signal) => {
    if (stopping) return
    console.error(`instance ${number} exited (${signal ?? code}): stopping the cluster`)
    stop(1)
  })
  return new Promise((resolve) => {
    relay(child, number, (line) => {
      const port = /demo on http:\/\/[^\s/]+:(\d+)/.exec(line)?.[1]
      if (port) resolve(`http://127.0.0.1:${port}`)
    })
  })
}

function describeForward({ instance, method, path, status, stream }: Forwarded): string {
  return `[front] ${method} ${path} → instance ${instance}: ${status}${stream ? ' (event stream)' : ''}`
}

// Both at once: ward.migrate() takes a database lock, so one applies the migrations and the
// other finds them applied. Users live in each process's memory, seeded identically.
const urls = await Promise.all(
  Array.from({ length: INSTANCES }, (_, index) => startInstance(index + 1)),
)
const server = createFront({
  instances: urls,
  onForward: (forwarded) => console.info(describeForward(forwarded)),
})
front = server
server.once('error', (error) => {
  console.error(
    `demo:cluster: the front cannot listen on ${config.host}:${config.port}: ${error.message}`,
  )
  stop(1)
})
server.listen(config.port, config.host, () => {
  const { port } = server.address() as AddressInfo
  const shown = config.host === '0.0.0.0' ? '127.0.0.1' : config.host
  console.info(
    `sessionward demo cluster on http://${shown}:${port}: round robin over ` +
      `${urls.map((url, index) => `instance ${index + 1} (${url})`).join(' and ')}, ` +
      'one PostgreSQL, one Redis. Sign in as alice/alice; admin/admin ends sessions at /admin/sessions.',
  )
})

function stop(code = 0): void {
  if (stopping) return
  stopping = true
  front?.close()
  front?.closeAllConnections()
  const exits = children.map(
    (child) =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) resolve()
        else child.once('exit', () => resolve())
      }),
  )
  for (const child of children) child.kill('SIGTERM')
  Promise.all(exits).finally(() => process.exit(code))
}
process.on('SIGINT', () => stop())
process.on('SIGTERM', () => stop())
