/** The parts of a `pg` pool and its clients the guard uses (pg's own types are not a dependency). */
interface PoolClientLike {
  release(error?: Error): void
  once(event: 'end', listener: () => void): unknown
}
interface PoolLike {
  on(event: 'connect' | 'acquire', listener: (client: PoolClientLike) => void): unknown
  on(event: 'release', listener: (error: unknown, client: PoolClientLike) => void): unknown
}

/**
 * Gives back to the pool (which drops them) clients whose connection ended while checked out
 * and that their holder never released. kysely 0.29.6, pinned by MikroORM 7.2, releases a
 * transaction's connection only when its ROLLBACK succeeds, and a ROLLBACK on a dead
 * connection never does (kysely-org/kysely#1990, fixed in 0.29.9): without this guard every
 * database cut in the middle of a transaction keeps one pool slot forever, until the pool is
 * exhausted and only a restart helps.
 *
 * @example
 * MikroORM.init({ driverOptions: { onPoolCreated: releaseDeadClients } })
 */
export function releaseDeadClients(pool: PoolLike): void {
  const checkedOut = new WeakSet<PoolClientLike>()
  pool.on('acquire', (client) => checkedOut.add(client))
  pool.on('release', (_error, client) => checkedOut.delete(client))
  pool.on('connect', (client) => {
    client.once('end', () => {
      // After the holder's own error handling has run: a holder that releases keeps that job.
      setImmediate(() => {
        if (!checkedOut.has(client)) return
        const release = client.release.bind(client)
        // A late release by the holder must not throw pg-pool's double-release error.
        client.release = () => undefined
        release(new Error('sessionward: the connection ended while checked out'))
      })
    })
  })
}
