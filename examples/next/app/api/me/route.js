import { sw } from '../../../lib/ward.js'

// Behind proxy.js: only requests with a live session get here.
export async function GET(request) {
  const session = await sw.getSession(request)
  return Response.json({ userId: session?.userId })
}
