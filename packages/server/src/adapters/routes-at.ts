import { Hono } from 'hono'
import type { WardEnv } from '../middleware.ts'
import type { Ward } from '../ward.ts'

/**
 * The ward's routes as an adapter serves them: mounted at the path the framework mounted them
 * at, so they see the request's whole path as under `app.route('/session', ward.routes())` (the
 * `passive` option, the unmatched-path answers). One app per mount path, built once.
 *
 * @example
 * const routesAt = mountedRoutes(ward)
 * await routesAt('/session').fetch(request, env)
 */
export function mountedRoutes(ward: Ward): (base: string) => Hono<WardEnv> {
  const routes = ward.routes()
  const apps = new Map<string, Hono<WardEnv>>([['', routes]])
  return (base) => {
    let app = apps.get(base)
    if (!app) {
      app = new Hono<WardEnv>().route(base, routes)
      apps.set(base, app)
    }
    return app
  }
}
