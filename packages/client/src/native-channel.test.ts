// @vitest-environment node
// Node has the browser's BroadcastChannel and Web Locks, as the script tag's browsers do.
import * as Package from 'broadcast-channel'
import { afterEach, describe, expect, test } from 'vitest'
import { BroadcastChannel, createLeaderElection } from './native-channel.ts'

const open: Array<{ close(): Promise<void> }> = []
let counter = 0
const uniqueName = (): string => `native-channel-test-${process.pid}-${counter++}`

function channel<T>(name: string): BroadcastChannel<T> {
  const created = new BroadcastChannel<T>(name)
  open.push(created)
  return created
}

const received = <T>(target: { onmessage?: ((data: T) => void) | null }): Promise<T> =>
  new Promise((resolve) => {
    target.onmessage = resolve
  })

afterEach(async () => {
  await Promise.all(open.splice(0).map((each) => each.close()))
})

describe('native channel', () => {
  test('delivers a message to the other channels of the name, not to itself or other names', async () => {
    const name = uniqueName()
    const [a, b] = [channel<string>(name), channel<string>(name)]
    const other = channel<string>(uniqueName())
    const heard: string[] = []
    a.onmessage = (data) => heard.push(`a:${data}`)
    other.onmessage = (data) => heard.push(`other:${data}`)
    const arrival = received(b)
    await a.postMessage('hello')
    expect(await arrival).toBe('hello')
    expect(heard).toEqual([])
  })

  test('one tab leads; the next leads once the leader closes its channel', async () => {
    const name = uniqueName()
    const [a, b] = [channel(name), channel(name)]
    const first = createLeaderElection(a)
    const second = createLeaderElection(b)
    await first.awaitLeadership()
    let secondLeads = false
    const handedOver = second.awaitLeadership().then(() => {
      secondLeads = true
    })
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect([first.isLeader, secondLeads]).toEqual([true, false])
    await a.close()
    await handedOver
    expect([first.isLeader, second.isLeader]).toEqual([false, true])
  })

  test('a closed channel that never led stops waiting without an error', async () => {
    const name = uniqueName()
    const [a, b] = [channel(name), channel(name)]
    await createLeaderElection(a).awaitLeadership()
    const waiting = createLeaderElection(b)
    const outcome = Promise.race([
      waiting.awaitLeadership().then(
        () => 'led',
        () => 'failed',
      ),
      new Promise((resolve) => setTimeout(resolve, 100, 'still waiting')),
    ])
    await b.close()
    expect(await outcome).toBe('still waiting')
    expect(waiting.isLeader).toBe(false)
  })

  test('shares messages and one election with the broadcast-channel package', async () => {
    const name = uniqueName()
    const ours = channel<string>(name)
    const theirs = new Package.BroadcastChannel<string>(name, { type: 'native' })
    open.push(theirs)
    const toTheirs = received(theirs)
    await ours.postMessage('from the script tag')
    expect(await toTheirs).toBe('from the script tag')
    const toOurs = received(ours)
    await theirs.postMessage('from the npm build')
    expect(await toOurs).toBe('from the npm build')

    const theirElector = Package.createLeaderElection(theirs)
    await theirElector.awaitLeadership()
    const ourElector = createLeaderElection(ours)
    const leads = ourElector.awaitLeadership()
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(ourElector.isLeader).toBe(false)
    await theirs.close()
    await leads
    expect(ourElector.isLeader).toBe(true)
  })
})
