import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { Hono } from 'hono'
import { etag } from 'hono/etag'
import { problemResponse } from './errors.ts'
import { markPassive, type WardEnv } from './middleware.ts'
import type { WardLogger } from './options.ts'

/** What an app needs to write the script tag of the versioned URL. */
export interface ClientScript {
  /** The versioned file name, relative to where `ward.routes()` is mounted. */
  path: string
  /** The Subresource Integrity value of the exact bytes served (`sha384-…`). */
  integrity: string
}

interface Bundle extends ClientScript {
  bytes: Uint8Array<ArrayBuffer>
}

const BUILD_HINT =
  'the browser script (@sessionward/client/iife) is not built: run `npm run build -w @sessionward/client`'

// The unversioned URL may change on upgrade; the ETag makes its revalidation cheap.
const SHORT_CACHE = 'public, max-age=300'
// The versioned name changes with every byte, so a browser may keep it for good.
const IMMUTABLE_CACHE = 'public, max-age=31536000, immutable'

/** Where the installed client package keeps its script-tag bundle. */
export function locateClientBundle(): string {
  return createRequire(import.meta.url).resolve('@sessionward/client/iife')
}

function readBundle(file: string): Bundle {
  const bytes = new Uint8Array(readFileSync(file))
  const { version } = JSON.parse(readFileSync(join(dirname(file), '..', 'package.json'), 'utf8'))
  const digest = createHash('sha384').update(bytes).digest()
  return {
    bytes,
    // Version for people reading logs, digest so a rebuilt file never reuses an immutable URL.
    path: `sessionward-${version}-${digest.toString('hex').slice(0, 10)}.js`,
    integrity: `sha384-${digest.toString('base64')}`,
  }
}

/**
 * The client's script-tag bundle as this server serves it: found through the installed
 * `@sessionward/client` package and read once, on first use. A missing file (a checkout where
 * the client is not built) is looked for again on the next use, so building it needs no restart.
 *
 * @example
 * const script = new ClientScriptFile(console)
 * script.describe() // { path: 'sessionward-0.1.0-1a2b3c4d5e.js', integrity: 'sha384-…' }
 */
export class ClientScriptFile {
  readonly #logger: WardLogger
  readonly #locate: () => string
  #bundle: Bundle | undefined
  #warned = false

  constructor(logger: WardLogger, locate: () => string = locateClientBundle) {
    this.#logger = logger
    this.#locate = locate
  }

  /** The bundle, or null when it cannot be read (logged once). */
  load(): Bundle | null {
    if (this.#bundle) return this.#bundle
    try {
      this.#bundle = readBundle(this.#locate())
      return this.#bundle
    } catch (error) {
      if (!this.#warned) {
        this.#warned = true
        this.#logger.warn(`sessionward: ${BUILD_HINT} (${(error as Error).message})`)
      }
      return null
    }
  }

  /** The versioned path and integrity; throws with the build hint when the file is missing. */
  describe(): ClientScript {
    const bundle = this.load()
    if (!bundle) throw new Error(`sessionward: ${BUILD_HINT}`)
    return { path: bundle.path, integrity: bundle.integrity }
  }
}

/**
 * `GET /sessionward.js` (short cache) and `GET /sessionward-<version>-<digest>.js` (immutable):
 * public and passive, with an ETag answered by 304. Mounted before the session guard.
 *
 * @example
 * app.route('/', clientScriptRoutes(new ClientScriptFile(console)))
 */
export function clientScriptRoutes(script: ClientScriptFile): Hono<WardEnv> {
  const app = new Hono<WardEnv>()
  app.get('/:file{sessionward(?:-[^/]+)?\\.js}', etag(), (c) => {
    // Fetching the script is page loading, not something the user did.
    markPassive(c)
    const file = c.req.param('file')
    const bundle = script.load()
    if (!bundle) {
      c.header('Cache-Control', 'no-store')
      return problemResponse(c, { status: 404, error: 'not_found', message: BUILD_HINT })
    }
    if (file !== 'sessionward.js' && file !== bundle.path) {
      c.header('Cache-Control', 'no-store')
      return problemResponse(c, {
        status: 404,
        error: 'not_found',
        message: `this server serves ${bundle.path}; take the path from ward.clientScript()`,
      })
    }
    c.header('Content-Type', 'text/javascript; charset=utf-8')
    c.header('Cache-Control', file === 'sessionward.js' ? SHORT_CACHE : IMMUTABLE_CACHE)
    c.header('ETag', `"${bundle.integrity}"`)
    c.header('X-Content-Type-Options', 'nosniff')
    return c.body(bundle.bytes)
  })
  return app
}
