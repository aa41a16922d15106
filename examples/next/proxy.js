import { sw } from './lib/ward.js'

// Runs before the matched routes (Node.js runtime): a page without a live session goes to
// /login, an API call gets the ward's JSON 401 (403 for a cross-site cookie request).
export const proxy = sw.proxy({ redirectTo: '/login' })
export const config = { matcher: ['/', '/api/:path*'] }
