import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest'
import { localeUrl } from './locale-loader.iife.ts'
import de from './locales/de.ts'

describe('the script tag’s locale files', () => {
  test.each([
    [
      'https://app.example/session/sessionward.js',
      'https://app.example/session/sessionward.locale.de.json',
    ],
    [
      'https://app.example/session/sessionward-0.1.0-0123456789.js',
      'https://app.example/session/sessionward-0.1.0-0123456789.locale.de.json',
    ],
    [
      'https://cdn.example/@sessionward/client/dist/sessionward.iife.js?v=1',
      'https://cdn.example/@sessionward/client/dist/sessionward.iife.locale.de.json?v=1',
    ],
  ])('%s fetches %s', (script, url) => {
    expect(localeUrl(script, 'de')).toBe(url)
  })

  describe('fetched from beside the bundle', () => {
    let server: Server
    let base: string
    const requested: string[] = []
    beforeAll(async () => {
      // A static server: the locale file beside the bundle, nothing else.
      server = createServer((request, response) => {
        requested.push(request.url ?? '')
        if (request.url === '/assets/sessionward.locale.de.json') {
          response.setHeader('content-type', 'application/json')
          response.end(JSON.stringify(de))
        } else {
          response.statusCode = 404
          response.end('{"error":"not_found"}')
        }
      })
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
      // The page comes from the same server, as the bundle and its locale files do.
      ;(window as unknown as { happyDOM: { setURL(url: string): void } }).happyDOM.setURL(
        `${base}/page`,
      )
    })
    afterAll(() => new Promise((resolve) => server.close(resolve)))

    /** The loader as the bundle runs it: `currentScript` is its own tag while it loads. */
    async function loaderOf(src: string) {
      vi.resetModules()
      const script = document.createElement('script')
      script.src = src
      Object.defineProperty(document, 'currentScript', { value: script, configurable: true })
      try {
        return await import('./locale-loader.iife.ts')
      } finally {
        Object.defineProperty(document, 'currentScript', { value: null, configurable: true })
      }
    }

    test('the locale’s JSON, found from the bundle’s own URL', async () => {
      const { loadLocale } = await loaderOf(`${base}/assets/sessionward.js`)
      expect(await loadLocale('de')).toEqual(de)
      expect(requested.at(-1)).toBe('/assets/sessionward.locale.de.json')
    })

    test('a bundle without a URL of its own (inlined) rejects instead of throwing', async () => {
      vi.resetModules()
      const { loadLocale } = await import('./locale-loader.iife.ts')
      await expect(loadLocale('de')).rejects.toBeInstanceOf(TypeError)
    })

    test('a file that is not there rejects with its status (the dialog stays in English)', async () => {
      const { loadLocale } = await loaderOf(`${base}/assets/sessionward.js`)
      await expect(loadLocale('fr')).rejects.toBe(404)
    })
  })
})
