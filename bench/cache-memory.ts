import { randomUUID } from 'node:crypto'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { SessionCache } from '../packages/server/src/session-cache.ts'
import { hashToken } from '../packages/server/src/tokens.ts'
import type { SessionPolicy } from '../packages/server/src/vocabulary.ts'

const ENTRIES = 100_000
const CHROME =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36'

setFlagsFromString('--expose-gc')
const collect = runInNewContext('gc') as () => void

/** The heap in use after a full collection, in bytes. */
function heapUsed(): number {
  collect()
  collect()
  return process.memoryUsage().heapUsed
}

/**
 * Memory per `cacheSize`: the heap one process cache holds with ENTRIES live sessions cached,
 * as many ends remembered and (with a bus) as many activity times of sessions not cached here
 * (the three LRU maps `cacheSize` bounds). Sessions with a Chrome user agent and an IPv4 address.
 *
 * @example
 * const section = benchCacheMemory() // markdown
 */
export function benchCacheMemory(): string {
  const never = () => Promise.reject(new Error('not read in this bench'))
  const policy = { expireAfter: 900, warnAfter: 840, maxAge: 43_200 } as SessionPolicy
  const now = Date.now()
  // From before the cache exists: its LRU maps allocate their index arrays up front.
  const before = heapUsed()
  const cache = new SessionCache<unknown>(
    { max: ENTRIES, ttl: 5000, touchInterval: 60_000 },
    {
      read: never,
      policy: never,
      writeActivity: () => Promise.resolve(),
      activityMoved: () => {},
      onEnded: () => {},
      onPolicyChanged: () => {},
    },
  )
  const empty = heapUsed()
  for (let i = 0; i < ENTRIES; i++) {
    const at = new Date(now)
    cache.add(
      hashToken(`swt_${i}`),
      {
        id: randomUUID(),
        userId: `user-${i}`,
        createdAt: at,
        lastActivityAt: at,
        expiresAt: new Date(now + 43_200_000),
        endedAt: null,
        endReason: null,
        ip: `203.0.113.${i % 250}`,
        lastIp: `203.0.113.${i % 250}`,
        userAgent: CHROME,
        detail: null,
        idp: null,
      },
      policy,
      now,
    )
  }
  const sessions = heapUsed()
  for (let i = ENTRIES; i < 2 * ENTRIES; i++) {
    cache.markEnded(hashToken(`swt_${i}`), randomUUID(), 'logout', new Date(now))
  }
  const ended = heapUsed()
  for (let i = 2 * ENTRIES; i < 3 * ENTRIES; i++) cache.noteActivity(hashToken(`swt_${i}`), now)
  const activity = heapUsed()
  // The cache must outlive the last measurement, or the collector frees it before.
  if (!cache.peek(hashToken('swt_0'))) throw new Error('the first session left the cache')
  const per = (bytes: number) => Math.round(bytes / ENTRIES)
  return [
    '## Memory per cached session',
    '',
    `One \`SessionCache\` filled with ${ENTRIES.toLocaleString('en')} entries of each kind \`cacheSize\` bounds (heap after a full collection; token hashes as strings, a Chrome user agent, IPv4).`,
    '',
    '| entries | bytes each |',
    '|---|---:|',
    `| the empty cache, per unit of \`cacheSize\` | ${per(empty - before)} |`,
    `| live sessions (the cache proper) | ${per(sessions - empty)} |`,
    `| ended hashes remembered (with their reason) | ${per(ended - sessions)} |`,
    `| activity of sessions not cached here (with a bus) | ${per(activity - ended)} |`,
    `| all three at \`cacheSize\` | ${per(activity - before)} |`,
  ].join('\n')
}
