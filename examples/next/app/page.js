import { sw } from '../lib/ward.js'
import { Home } from './home.js'

// Rendered per request: a server component reads the session (it cannot set cookies; proxy.js
// has sent a visitor without a live session to /login).
export const dynamic = 'force-dynamic'

export default async function Page() {
  const session = await sw.getSession()
  return <Home userId={session?.userId} />
}
