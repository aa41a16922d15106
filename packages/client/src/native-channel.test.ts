// @vitest-environment node
// Node has the browser's BroadcastChannel and Web Locks, as the script tag's browsers do.
import * as Package from 'broadcast-channel'
import { afterEach, describe, expect, test } from 'vitest'
import { openChannel, type TabChannel } from './native-channel.ts'

const open: Array<() => unknown> = []
let counter = 0
const uniqueName = (): string => `native-channel-test-${process.pid}-${counter++}`

/** A native channel of `name`; `hear` gets what the others post. */
function channel<T>(name: string, hear: (data: T) => void = () => {}): TabChannel<T> {
  const created = openChannel<T>({ channelName: name }, hear)
  open.push(() => created.leave())
  return created
}

/** Resolves once this tab leads; `leads` tells whether it does now. */
function elect(target: TabChannel<unknown>): { led: Promise<void>; leads: () => boolean } {
  let leads = (): boolean => false
  const led = new Promise<void>((resolve) => {
    leads = target.elect(resolve)
  })
  return { led, leads }
}

const sleep = (ms: number): Promise<unknown> => new Promise((resolve) => setTimeout(resolve, ms))

afterEach(async () => {
  await Promise.all(open.splice(0).map((leave) => leave()))
})

describe('native channel', () => {
  test('delivers a message to the other channels of the name, not to itself or other names', async () => {
    const name = uniqueName()
    const heard: string[] = []
    const a = channel<string>(name, (data) => heard.push(`a:${data}`))
    const arrival = new Promise((resolve) => channel<string>(name, resolve))
    channel<string>(uniqueName(), (data) => heard.push(`other:${data}`))
    a.post('hello')
    expect(await arrival).toBe('hello')
    expect(heard).toEqual([])
  })

  test('one tab leads; the next leads once the leader leaves its channel', async () => {
    const name = uniqueName()
    const [a, b] = [channel(name), channel(name)]
    const first = elect(a)
    await first.led
    let secondLeads = false
    const second = elect(b)
    const handedOver = second.led.then(() => {
      secondLeads = true
    })
    await sleep(50)
    expect([first.leads(), secondLeads]).toEqual([true, false])
    a.leave()
    await handedOver
    expect([first.leads(), second.leads()]).toEqual([false, true])
  })

  test('a channel left before it led stops waiting without an error', async () => {
    const name = uniqueName()
    const [a, b] = [channel(name), channel(name)]
    await elect(a).led
    const waiting = elect(b)
    const outcome = Promise.race([
      waiting.led.then(() => 'led'),
      sleep(100).then(() => 'still waiting'),
    ])
    b.leave()
    expect(await outcome).toBe('still waiting')
    expect(waiting.leads()).toBe(false)
  })

  test('shares messages and one election with the broadcast-channel package', async () => {
    const name = uniqueName()
    let toOurs: (data: string) => void = () => {}
    const ours = channel<string>(name, (data) => toOurs(data))
    const theirs = new Package.BroadcastChannel<string>(name, { type: 'native' })
    open.push(() => theirs.close())
    const heardByTheirs = new Promise((resolve) => {
      theirs.onmessage = resolve
    })
    ours.post('from the script tag')
    expect(await heardByTheirs).toBe('from the script tag')
    const heardByOurs = new Promise((resolve) => {
      toOurs = resolve
    })
    await theirs.postMessage('from the npm build')
    expect(await heardByOurs).toBe('from the npm build')

    const theirElector = Package.createLeaderElection(theirs)
    await theirElector.awaitLeadership()
    const ourElection = elect(ours)
    await sleep(50)
    expect(ourElection.leads()).toBe(false)
    await theirs.close()
    await ourElection.led
    expect(ourElection.leads()).toBe(true)
  })
})
