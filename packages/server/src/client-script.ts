import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { LOCALES } from '@sessionward/client/locales'
import { type Context, Hono } from 'hono'
import { etag } from 'hono/etag'
import { problemResponse } from './errors.ts'
import { markPassive, type WardEnv } from './middleware.ts'
import type { WardLogger } from './options.ts'
import { notFound } from './problems.ts'

/** What an app needs to write the script tag of the versioned URL. */
export interface ClientScript {
  /** The versioned file name, relative to where `ward.routes()` is mounted. */
  path: string
  /** The Subresource Integrity value of the exact bytes served (`sha384-…`). */
  integrity: string
}

/** A file served as it is, with its ETag. */
interface Served {
  bytes: Uint8Array<ArrayBuffer>
  etag: string
}

interface Bundle extends ClientScript, Served {
  /** The dialog's locale files by tag (`de`, `pt-BR`): JSON the bundle fetches next to itself. */
  locales: Map<string, Served>
  /**
   * What the bundle imports next to itself only when a page needs it (the new-device notice,
   * the screen-lock watch): an ES module; null for a client older than it.
   */
  extras: Served | null
}

const BUILD_HINT =
  'the browser script (@sessionward/client/iife) is not built: run `npm run build -w @sessionward/client`'

// The unversioned URL may change on upgrade; the ETag makes its revalidation cheap.
const SHORT_CACHE = 'public, max-age=300'
// The versioned name changes with every byte, so a browser may keep it for good.
const IMMUTABLE_CACHE = 'public, max-age=31536000, immutable'

const require = createRequire(import.meta.url)

/** Where the installed client package keeps its script-tag bundle. */
export function locateClientBundle(): string {
  return require.resolve('@sessionward/client/iife')
}

/** Where the installed client package keeps the bundle's extras (`@sessionward/client/iife-extras`). */
export function locateClientExtras(): string {
  return require.resolve('@sessionward/client/iife-extras')
}

/** Where the installed client package keeps a locale's JSON (`@sessionward/client/locales/de.json`). */
export function locateClientLocale(tag: string): string {
  return require.resolve(`@sessionward/client/locales/${tag}.json`)
}

const sha384 = (bytes: Uint8Array): Buffer => createHash('sha384').update(bytes).digest()

function served(bytes: Uint8Array<ArrayBuffer>): Served {
  return { bytes, etag: `"sha384-${sha384(bytes).toString('base64')}"` }
}

/** The shipped locale files; one that is missing (a client older than locales) is not served. */
function readLocales(locate: (tag: string) => string): Map<string, Served> {
  const locales = new Map<string, Served>()
  for (const tag of LOCALES) {
    try {
      locales.set(tag, served(new Uint8Array(readFileSync(locate(tag)))))
    } catch {
      // Answered 404 like an unknown tag; the dialog stays in English.
    }
  }
  return locales
}

/** The bundle's extras, or null when the client has none (answered 404). */
function readExtras(locate: () => string): Served | null {
  try {
    return served(new Uint8Array(readFileSync(locate())))
  } catch {
    return null
  }
}

function readBundle(
  file: string,
  locateLocale: (tag: string) => string,
  locateExtras: () => string,
): Bundle {
  const bytes = new Uint8Array(readFileSync(file))
  const { version } = JSON.parse(readFileSync(join(dirname(file), '..', 'package.json'), 'utf8'))
  const digest = sha384(bytes)
  const locales = readLocales(locateLocale)
  const extras = readExtras(locateExtras)
  // The versioned name covers the locale files and the extras too: a changed file never reuses
  // an immutable URL.
  const build = createHash('sha384').update(bytes)
  for (const [tag, locale] of locales) build.update(tag).update(locale.bytes)
  if (extras) build.update('extras').update(extras.bytes)
  return {
    bytes,
    etag: `"sha384-${digest.toString('base64')}"`,
    // Version for people reading logs, digest so a rebuilt file never reuses an immutable URL.
    path: `sessionward-${version}-${build.digest('hex').slice(0, 10)}.js`,
    integrity: `sha384-${digest.toString('base64')}`,
    locales,
    extras,
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
  readonly #locateLocale: (tag: string) => string
  readonly #locateExtras: () => string
  #bundle: Bundle | undefined
  #warned = false

  constructor(
    logger: WardLogger,
    locate: () => string = locateClientBundle,
    locateLocale: (tag: string) => string = locateClientLocale,
    locateExtras: () => string = locateClientExtras,
  ) {
    this.#logger = logger
    this.#locate = locate
    this.#locateLocale = locateLocale
    this.#locateExtras = locateExtras
  }

  /** The bundle, or null when it cannot be read (logged once). */
  load(): Bundle | null {
    if (this.#bundle) return this.#bundle
    try {
      this.#bundle = readBundle(this.#locate(), this.#locateLocale, this.#locateExtras)
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

/** A 404 (no-store: the file may be built, or the page fixed, a moment later). */
function missing(c: Context<WardEnv>, message: string): Response {
  return problemResponse(c, notFound(message))
}

/** The versioned name's answer when the page asks for another build's. */
const otherBuild = (c: Context<WardEnv>, bundle: Bundle): Response =>
  missing(c, `this server serves ${bundle.path}; take the path from ward.clientScript()`)

function serve(c: Context<WardEnv>, file: Served, type: string, immutable: boolean): Response {
  c.header('Content-Type', type)
  c.header('Cache-Control', immutable ? IMMUTABLE_CACHE : SHORT_CACHE)
  c.header('ETag', file.etag)
  c.header('X-Content-Type-Options', 'nosniff')
  return c.body(file.bytes)
}

/**
 * `GET /sessionward.js` (short cache) and `GET /sessionward-<version>-<digest>.js` (immutable):
 * public and passive, with an ETag answered by 304. Beside each, the dialog's locale files the
 * bundle fetches from its own URL: `sessionward.locale.<tag>.json` and
 * `sessionward-<version>-<digest>.locale.<tag>.json`, only for the tags the client ships (any
 * other name, a path included, is a 404), and the module it imports when a page needs it
 * (`sessionward.extras.js`: the new-device notice, the screen-lock watch). Mounted before the
 * session guard.
 *
 * @example
 * app.route('/', clientScriptRoutes(new ClientScriptFile(console)))
 */
export function clientScriptRoutes(script: ClientScriptFile): Hono<WardEnv> {
  const app = new Hono<WardEnv>()
  // Before the bundle's route, whose pattern would take `sessionward-<version>.extras.js` too.
  app.get('/:file{sessionward(?:-[^/]+?)?\\.extras\\.js}', etag(), (c) => {
    markPassive(c)
    const name = c.req.param('file').slice(0, -'.extras.js'.length)
    const bundle = script.load()
    if (!bundle) return missing(c, BUILD_HINT)
    if (name !== 'sessionward' && `${name}.js` !== bundle.path) return otherBuild(c, bundle)
    if (!bundle.extras) return missing(c, 'this client has no extras file')
    // Public code, no cookies: a page on another origin may import it (a module needs CORS).
    c.header('Access-Control-Allow-Origin', '*')
    return serve(c, bundle.extras, 'text/javascript; charset=utf-8', name !== 'sessionward')
  })
  app.get('/:file{sessionward(?:-[^/]+)?\\.js}', etag(), (c) => {
    // Fetching the script is page loading, not something the user did.
    markPassive(c)
    const file = c.req.param('file')
    const bundle = script.load()
    if (!bundle) return missing(c, BUILD_HINT)
    if (file !== 'sessionward.js' && file !== bundle.path) return otherBuild(c, bundle)
    return serve(c, bundle, 'text/javascript; charset=utf-8', file !== 'sessionward.js')
  })
  app.get('/:file{sessionward(?:-[^/]+?)?\\.locale\\.[^/]+\\.json}', etag(), (c) => {
    markPassive(c)
    const [, name = '', tag = ''] = /^(.+?)\.locale\.(.+)\.json$/.exec(c.req.param('file')) ?? []
    const bundle = script.load()
    if (!bundle) return missing(c, BUILD_HINT)
    if (name !== 'sessionward' && `${name}.js` !== bundle.path) return otherBuild(c, bundle)
    // Only a tag the client ships, looked up by name: the request never becomes a file path.
    const locale = bundle.locales.get(tag)
    if (!locale) {
      return missing(
        c,
        `no locale ${JSON.stringify(tag)}; served: ${[...bundle.locales.keys()].join(', ')}`,
      )
    }
    // Public texts, no cookies: a page on another origin than this server may read them.
    c.header('Access-Control-Allow-Origin', '*')
    return serve(c, locale, 'application/json; charset=utf-8', name !== 'sessionward')
  })
  return app
}
