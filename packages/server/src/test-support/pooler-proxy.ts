import { createConnection, createServer, type Socket } from 'node:net'

/**
 * What a connection pooler in transaction mode (PgBouncer's pool_mode = transaction) does to
 * LISTEN, for the tests of the PostgreSQL bus where no PgBouncer is installed. `lose`: LISTEN
 * passes, and what it listens to never comes back (PgBouncer hands the server connection to
 * another client after each statement). `refuse`: LISTEN is answered with an error, as poolers
 * that know they cannot serve it do. Everything else passes to the real PostgreSQL behind it.
 */
export type PoolerMode = 'lose' | 'refuse'

/** A proxy in front of PostgreSQL that treats LISTEN as a transaction-mode pooler does. */
export interface PoolerProxy {
  port: number
  close(): Promise<void>
}

// Protocol message types (PostgreSQL frontend/backend protocol 3).
const NOTIFICATION = 0x41 // 'A', server to client
const QUERY = 0x51 // 'Q', client to server (simple query)

/** The server messages a refused query gets: an ErrorResponse, then ReadyForQuery (idle). */
function refusal(message: string): Buffer {
  const fields = Buffer.from(`SERROR\0VERROR\0C0A000\0M${message}\0\0`, 'utf8')
  const error = Buffer.alloc(5)
  error.write('E', 0)
  error.writeInt32BE(4 + fields.length, 1)
  const ready = Buffer.from([0x5a, 0, 0, 0, 5, 0x49]) // 'Z', length 5, 'I'
  return Buffer.concat([error, fields, ready])
}

/**
 * Splits a byte stream into protocol messages (type byte, then a length that counts itself);
 * `skipUntyped` for the client's first message (the startup message has no type byte).
 */
function messages(onMessage: (message: Buffer) => void, skipUntyped: boolean) {
  let buffered = Buffer.alloc(0)
  let untyped = skipUntyped
  return (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk])
    for (;;) {
      const header = untyped ? 4 : 5
      if (buffered.length < header) return
      const length = (untyped ? buffered.readInt32BE(0) : buffered.readInt32BE(1) + 1) as number
      if (buffered.length < length) return
      onMessage(buffered.subarray(0, length))
      buffered = buffered.subarray(length)
      untyped = false
    }
  }
}

/**
 * Starts the proxy to PostgreSQL at `host:port` on a free local port. Assumes no TLS between
 * the client and the proxy (the test URLs have no sslmode).
 *
 * @example
 * const pooler = await poolerProxy('127.0.0.1', 5432, 'lose')
 */
export async function poolerProxy(
  host: string,
  port: number,
  mode: PoolerMode,
): Promise<PoolerProxy> {
  const sockets = new Set<Socket>()
  const server = createServer((client) => {
    const upstream = createConnection({ host, port })
    for (const socket of [client, upstream]) {
      sockets.add(socket)
      socket.on('close', () => sockets.delete(socket))
      socket.on('error', () => undefined)
    }
    client.on(
      'data',
      messages((message) => {
        const listen =
          message[0] === QUERY && /^\s*listen\b/i.test(message.subarray(5).toString('utf8'))
        if (listen && mode === 'refuse') {
          client.write(refusal('LISTEN is not supported in transaction pooling mode'))
        } else upstream.write(message)
      }, true),
    )
    upstream.on(
      'data',
      messages((message) => {
        if (message[0] !== NOTIFICATION) client.write(message)
      }, false),
    )
    client.on('close', () => upstream.destroy())
    upstream.on('close', () => client.destroy())
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('pooler proxy: no port')
  return {
    port: address.port,
    close: async () => {
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
