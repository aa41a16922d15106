import { createConnection, createServer, type Socket } from 'node:net'

/** A TCP proxy in front of a database that a test can stall and resume. */
export interface StallProxy {
  /** The port the proxy listens on (127.0.0.1). */
  port: number
  /** Stops forwarding bytes both ways; connections stay open, as with a hung network. */
  stall(): void
  /** Forwards what was held back, then passes bytes again. */
  resume(): void
  close(): Promise<void>
}

/**
 * Starts a proxy to `host:port` on a free local port. It never touches the server behind it:
 * stalling only stops this proxy forwarding bytes.
 *
 * @example
 * const proxy = await stallProxy('127.0.0.1', 5432)
 * proxy.stall()
 */
export async function stallProxy(host: string, port: number): Promise<StallProxy> {
  let stalled = false
  const held: { to: Socket; chunk: Buffer }[] = []
  const sockets = new Set<Socket>()
  const forward = (from: Socket, to: Socket) => {
    from.on('data', (chunk: Buffer) => {
      if (stalled) held.push({ to, chunk })
      else to.write(chunk)
    })
    from.on('close', () => to.destroy())
    from.on('error', () => to.destroy())
  }
  const server = createServer((client) => {
    const upstream = createConnection({ host, port })
    for (const socket of [client, upstream]) {
      sockets.add(socket)
      socket.on('close', () => sockets.delete(socket))
    }
    forward(client, upstream)
    forward(upstream, client)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('proxy: no port')
  return {
    port: address.port,
    stall: () => {
      stalled = true
    },
    resume: () => {
      stalled = false
      for (const { to, chunk } of held.splice(0)) if (!to.destroyed) to.write(chunk)
    },
    close: async () => {
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
