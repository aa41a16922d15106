import { createConnection, createServer, type Socket } from 'node:net'

/** What the proxy does to traffic: pass it, hold it (a hung network), or drop it (a dead server). */
export type ProxyFault = 'stall' | 'cut'

/** A TCP proxy in front of a database that a test can stall, cut and resume. */
export interface StallProxy {
  /** The port the proxy listens on (127.0.0.1). */
  port: number
  /** Stops forwarding bytes both ways; connections stay open, as with a hung network. */
  stall(): void
  /**
   * Closes every connection and closes each new one at once, as when the server is stopped:
   * the client sees its connections end, not a hang.
   */
  cut(): void
  /**
   * Applies `fault` the moment the client sends bytes containing `text` (a statement), before
   * they reach the server: a fault in the middle of a unit of work, at a chosen statement.
   */
  faultOn(text: string, fault: ProxyFault): void
  /**
   * Forwards the next bytes the client sends containing `text` (a COMMIT), then holds what the
   * server answers on that one connection until `resume()`: the statement runs and lands, its
   * acknowledgement is late. Other connections pass.
   */
  holdAnswerTo(text: string): void
  /**
   * Forwards the next bytes the client sends containing `text`, then applies `fault` to all
   * traffic: the statement lands, and neither its answer nor anything after gets through.
   */
  faultAfter(text: string, fault: ProxyFault): void
  /**
   * Bytes the client has sent since the last `resume()` that the proxy holds back: under a
   * stall, how much the client has queued for a server that does not answer.
   */
  heldFromClient(): number
  /** Forwards what was held back, then passes bytes (and accepts connections) again. */
  resume(): void
  close(): Promise<void>
}

/**
 * Starts a proxy to `host:port` on a free local port. It never touches the server behind it:
 * a fault only changes what this proxy forwards.
 *
 * @example
 * const proxy = await stallProxy('127.0.0.1', 5432)
 * proxy.stall()
 */
export async function stallProxy(host: string, port: number): Promise<StallProxy> {
  let fault: ProxyFault | null = null
  let trigger: { text: string; fault: ProxyFault } | null = null
  let answerTrigger: string | null = null
  let afterTrigger: { text: string; fault: ProxyFault } | null = null
  // The client sockets whose server answers are held (see holdAnswerTo).
  const answersHeld = new Set<Socket>()
  const held: { to: Socket; chunk: Buffer; fromClient: boolean }[] = []
  const sockets = new Set<Socket>()
  const apply = (next: ProxyFault) => {
    fault = next
    if (next === 'cut') {
      held.length = 0
      for (const socket of sockets) socket.destroy()
    }
  }
  const forward = (from: Socket, to: Socket, fromClient: boolean) => {
    from.on('data', (chunk: Buffer) => {
      if (fromClient && trigger && chunk.includes(trigger.text)) {
        apply(trigger.fault)
        trigger = null
      }
      if (fromClient && answerTrigger !== null && chunk.includes(answerTrigger)) {
        answersHeld.add(from)
        answerTrigger = null
      }
      if (fault === 'stall' || (!fromClient && answersHeld.has(to))) {
        held.push({ to, chunk, fromClient })
      } else if (fault === null) to.write(chunk)
      if (fromClient && afterTrigger && chunk.includes(afterTrigger.text)) {
        apply(afterTrigger.fault)
        afterTrigger = null
      }
    })
    from.on('close', () => to.destroy())
    from.on('error', () => to.destroy())
  }
  const server = createServer((client) => {
    if (fault === 'cut') {
      client.destroy()
      return
    }
    const upstream = createConnection({ host, port })
    for (const socket of [client, upstream]) {
      sockets.add(socket)
      socket.on('close', () => sockets.delete(socket))
    }
    forward(client, upstream, true)
    forward(upstream, client, false)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('proxy: no port')
  return {
    port: address.port,
    stall: () => apply('stall'),
    cut: () => apply('cut'),
    faultOn: (text, next) => {
      trigger = { text, fault: next }
    },
    holdAnswerTo: (text) => {
      answerTrigger = text
    },
    faultAfter: (text, next) => {
      afterTrigger = { text, fault: next }
    },
    heldFromClient: () =>
      held.reduce((bytes, { chunk, fromClient }) => bytes + (fromClient ? chunk.length : 0), 0),
    resume: () => {
      fault = null
      trigger = null
      answerTrigger = null
      afterTrigger = null
      answersHeld.clear()
      for (const { to, chunk } of held.splice(0)) if (!to.destroyed) to.write(chunk)
    },
    close: async () => {
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
