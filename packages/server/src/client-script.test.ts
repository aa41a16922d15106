import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { LOCALES } from '@sessionward/client/locales'
import { Hono } from 'hono'
import { beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import {
  ClientScriptFile,
  clientScriptRoutes,
  locateClientBundle,
  locateClientExtras,
  locateClientLocale,
} from './client-script.ts'
import type { WardEnv } from './middleware.ts'
import { type TestApp, testApp } from './test-support/app.ts'
import { at, useFakeClock } from './test-support/clock.ts'
import { activityWrites, type TestDatabase, testDatabase } from './test-support/db.ts'

const root = join(import.meta.dirname, '..', '..', '..')
const SCRIPT_TYPE = 'text/javascript; charset=utf-8'
const BUILD_HINT = 'npm run build -w @sessionward/client'

// The real bundle, as `npm start` builds it: 3.4 s on a fresh clone (10 s at load 11), 0.5 s when
// up to date; well within the hook timeout.
beforeAll(() => {
  execFileSync('npm', ['run', 'build:if-needed', '-w', '@sessionward/client'], {
    cwd: root,
    stdio: 'ignore',
  })
})

describe('the served browser script', () => {
  let db: TestDatabase
  let host: TestApp
  let built: Buffer
  useFakeClock()
  beforeEach(async () => {
    db = await testDatabase('PGlite')
    await db.reset()
    host = await testApp(db)
    built = readFileSync(locateClientBundle())
  })

  it('answers GET /session/sessionward.js with the built bundle, no session needed', async () => {
    const response = await host.app.request('/session/sessionward.js')
    expect(response.status).toBe(200)
    expect(Buffer.from(await response.arrayBuffer()).equals(built)).toBe(true)
    expect(response.headers.get('content-type')).toBe(SCRIPT_TYPE)
    expect(response.headers.get('cache-control')).toBe('public, max-age=300')
    expect(response.headers.get('x-content-type-options')).toBe('nosniff')
    expect(response.headers.get('etag')).toMatch(/^"sha384-[A-Za-z0-9+/]{64}"$/)
    expect(response.headers.get('set-cookie')).toBeNull()
  })

  it('answers If-None-Match with 304 and the same caching headers', async () => {
    const first = await host.app.request('/session/sessionward.js')
    const etag = first.headers.get('etag') ?? ''
    const again = await host.app.request('/session/sessionward.js', {
      headers: { 'if-none-match': `W/"other", ${etag}` },
    })
    expect(again.status).toBe(304)
    expect(await again.text()).toBe('')
    expect(again.headers.get('etag')).toBe(etag)
    expect(again.headers.get('cache-control')).toBe('public, max-age=300')
    const stale = await host.app.request('/session/sessionward.js', {
      headers: { 'if-none-match': '"sha384-old"' },
    })
    expect(stale.status).toBe(200)
  })

  it('names a versioned immutable URL whose integrity is the sha384 of the bytes served', async () => {
    const { path, integrity } = host.ward.clientScript()
    expect(path).toMatch(/^sessionward-0\.1\.0-[0-9a-f]{10}\.js$/)
    expect(integrity).toBe(`sha384-${createHash('sha384').update(built).digest('base64')}`)
    const response = await host.app.request(`/session/${path}`)
    expect(response.status).toBe(200)
    const served = Buffer.from(await response.arrayBuffer())
    expect(`sha384-${createHash('sha384').update(served).digest('base64')}`).toBe(integrity)
    expect(response.headers.get('content-type')).toBe(SCRIPT_TYPE)
    expect(response.headers.get('cache-control')).toBe('public, max-age=31536000, immutable')
    expect(response.headers.get('etag')).toBe(`"${integrity}"`)
  })

  it('serves the extras module beside the bundle and beside its versioned name (issue 23)', async () => {
    const extras = readFileSync(locateClientExtras())
    const plain = await host.app.request('/session/sessionward.extras.js')
    expect(plain.status).toBe(200)
    expect(Buffer.from(await plain.arrayBuffer()).equals(extras)).toBe(true)
    expect(plain.headers.get('content-type')).toBe(SCRIPT_TYPE)
    expect(plain.headers.get('cache-control')).toBe('public, max-age=300')
    expect(plain.headers.get('access-control-allow-origin')).toBe('*')
    const { path } = host.ward.clientScript()
    const versioned = await host.app.request(`/session/${path.replace(/\.js$/, '.extras.js')}`)
    expect(versioned.status).toBe(200)
    expect(versioned.headers.get('cache-control')).toBe('public, max-age=31536000, immutable')
    const other = await host.app.request('/session/sessionward-9.9.9-0000000000.extras.js')
    expect(other.status).toBe(404)
    expect(await other.json()).toMatchObject({ error: 'not_found' })
  })

  it('answers another version with 404 JSON that names the current path', async () => {
    const response = await host.app.request('/session/sessionward-9.9.9-0000000000.js')
    expect(response.status).toBe(404)
    expect(response.headers.get('cache-control')).toBe('no-store')
    expect(await response.json()).toEqual({
      error: 'not_found',
      message: `this server serves ${host.ward.clientScript().path}; take the path from ward.clientScript()`,
    })
  })

  it('does not count as activity, even with a live session', async () => {
    const { token } = await host.login('alice')
    at(120) // past touchInterval: an active request now writes last activity
    db.queries.length = 0
    const script = await host.call('/session/sessionward.js', { token })
    expect(script.status).toBe(200)
    await host.settled()
    expect(activityWrites(db)).toBe(0)
    expect((await host.call('/api/me', { token })).status).toBe(200)
    await host.settled()
    expect(activityWrites(db)).toBe(1)
  })
})

describe('the dialog’s locale files beside the script', () => {
  let db: TestDatabase
  let host: TestApp
  const JSON_TYPE = 'application/json; charset=utf-8'
  useFakeClock()
  beforeEach(async () => {
    db = await testDatabase('PGlite')
    await db.reset()
    host = await testApp(db)
  })

  it('serves every shipped locale as the client built it, public, cacheable, readable cross-origin', async () => {
    for (const tag of LOCALES) {
      const response = await host.app.request(`/session/sessionward.locale.${tag}.json`)
      expect(response.status).toBe(200)
      const built = readFileSync(locateClientLocale(tag))
      expect(Buffer.from(await response.arrayBuffer()).equals(built)).toBe(true)
      expect(response.headers.get('content-type')).toBe(JSON_TYPE)
      expect(response.headers.get('cache-control')).toBe('public, max-age=300')
      expect(response.headers.get('access-control-allow-origin')).toBe('*')
      expect(response.headers.get('x-content-type-options')).toBe('nosniff')
      expect(response.headers.get('set-cookie')).toBeNull()
    }
    const arabic = await host.app.request('/session/sessionward.locale.ar.json')
    expect(await arabic.json()).toMatchObject({
      tag: 'ar',
      dir: 'rtl',
      texts: { logout: 'تسجيل الخروج' },
    })
  })

  it('beside the versioned bundle: immutable, and answered 304 on a matching ETag', async () => {
    const { path } = host.ward.clientScript()
    const url = `/session/${path.replace(/\.js$/, '')}.locale.pt-BR.json`
    const response = await host.app.request(url)
    expect(response.status).toBe(200)
    expect(response.headers.get('cache-control')).toBe('public, max-age=31536000, immutable')
    expect((await response.json()).texts.logout).toBe('Sair')
    const again = await host.app.request(url, {
      headers: { 'if-none-match': response.headers.get('etag') ?? '' },
    })
    expect(again.status).toBe(304)
  })

  it('answers an unknown tag with 404 JSON that lists the served ones', async () => {
    for (const tag of ['xx', 'pt-br', 'DE', 'en-GB']) {
      const response = await host.app.request(`/session/sessionward.locale.${tag}.json`)
      expect(response.status).toBe(404)
      expect(response.headers.get('cache-control')).toBe('no-store')
      expect(await response.json()).toEqual({
        error: 'not_found',
        message: `no locale "${tag}"; served: ${LOCALES.join(', ')}`,
      })
    }
  })

  it('refuses paths: nothing outside the locale files is ever read', async () => {
    for (const path of [
      '/session/sessionward.locale.%2E%2E%2F%2E%2E%2Fpackage.json',
      '/session/sessionward.locale.de%2F..%2F..%2Fpackage.json',
      '/session/sessionward.locale..%2Fsessionward.iife.js.json',
      '/session/sessionward.locale.%2Fetc%2Fpasswd.json',
    ]) {
      const response = await host.app.request(path)
      expect(response.status, path).toBe(404)
      const body = await response.json()
      expect(body.error, path).toBe('not_found')
      expect(JSON.stringify(body), path).not.toContain('"version"')
    }
    // Not a locale file name at all: the session routes' own answer, never a file.
    for (const path of [
      '/session/sessionward.locale.de.json%00',
      '/session/sessionward.locale..json',
    ]) {
      const response = await host.app.request(path)
      expect(response.status, path).toBe(401)
      expect((await response.json()).error, path).toBe('unauthenticated')
    }
  })

  it('answers another build’s locale file with 404 JSON that names the current path', async () => {
    const response = await host.app.request('/session/sessionward-9.9.9-0000000000.locale.de.json')
    expect(response.status).toBe(404)
    expect(await response.json()).toEqual({
      error: 'not_found',
      message: `this server serves ${host.ward.clientScript().path}; take the path from ward.clientScript()`,
    })
  })
})

describe('a bundle that is not built', () => {
  const missing = () => join(root, 'packages', 'client', 'missing', 'sessionward.iife.js')

  it('answers 404 JSON that says to build the client, and warns once', async () => {
    const logger = { info: vi.fn(), warn: vi.fn(), error: vi.fn() }
    const app = new Hono<WardEnv>().route(
      '/session',
      clientScriptRoutes(new ClientScriptFile(logger, missing)),
    )
    for (const path of ['/session/sessionward.js', '/session/sessionward-0.1.0-0000000000.js']) {
      const response = await app.request(path)
      expect(response.status).toBe(404)
      expect(response.headers.get('cache-control')).toBe('no-store')
      const body = await response.json()
      expect(body.error).toBe('not_found')
      expect(body.message).toContain(BUILD_HINT)
    }
    expect(logger.warn).toHaveBeenCalledOnce()
    expect(logger.warn.mock.calls[0]?.[0]).toContain(BUILD_HINT)
  })

  it('makes clientScript() throw the same hint, also when the package is not installed', () => {
    const logger = { info: vi.fn(), warn: vi.fn(), error: vi.fn() }
    const notInstalled = () => {
      throw new Error("Cannot find module '@sessionward/client/iife'")
    }
    for (const locate of [missing, notInstalled]) {
      expect(() => new ClientScriptFile(logger, locate).describe()).toThrow(BUILD_HINT)
    }
  })
})
