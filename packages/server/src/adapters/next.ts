import { cookies, headers } from 'next/headers.js'
import type { Ward } from '../ward.ts'
import { createNextWard, type NextWard, type NextWardOptions } from './next-ward.ts'

export type {
  CookieToSet,
  NextHandlers,
  NextProxyOptions,
  NextWard,
  NextWardOptions,
} from './next-ward.ts'

/**
 * The ward for a Next.js 16 App Router app (Node.js runtime): the session routes' handlers,
 * `getSession()` for server components and route handlers, `signIn(userId)` for server actions
 * and route handlers (where cookies may be set), and `proxy()` for `proxy.ts`.
 *
 * @example
 * // lib/ward.ts
 * export const sw = nextWard(await createWard({ database: process.env.DATABASE_URL }))
 * // app/session/[...path]/route.ts
 * export const { GET, POST, DELETE } = sw.handlers
 * // a server component
 * const session = await sw.getSession()
 */
export function nextWard(ward: Ward, options: NextWardOptions = {}): NextWard {
  return createNextWard(ward, options, {
    headers: async () => new Headers(await headers()),
    setCookie: async (cookie) => {
      ;(await cookies()).set(cookie)
    },
  })
}
