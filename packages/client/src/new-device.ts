import type { NewDeviceDetail, NewDeviceOptions } from './new-device-detail.ts'
import { headersFrom } from './server.ts'

export type { NewDeviceDetail } from './new-device-detail.ts'

// New-device sign-ins (issue 23), as every tab of the session hears them: the one holding the
// events channel, and the others from it (machine.ts, `new-device`). This module and the notice
// load lazily, on the first `new-device` event: no page pays for them up front (the script-tag
// build fetches them as `<bundle>.extras.js`, see extras-loader.iife.ts).

const text = (value: unknown): string | null =>
  typeof value === 'string' && value !== '' ? value.slice(0, 100) : null

/**
 * The detail of a `new-device` event's data, or null when it is not one (the stream is the
 * server's, but nothing from it is trusted past its shape). `post` sends a session route's POST.
 * @example
 * readNewDevice({ sessionId: 'c0ffee…', browser: 'Firefox', os: 'Windows', signedInAt: '2026-12-06T05:00:00Z' }, post)
 */
export function readNewDevice(
  data: unknown,
  post: (path: string) => Promise<boolean>,
): NewDeviceDetail | null {
  const { sessionId, browser, os, signedInAt, held } = Object(data)
  const at = new Date(signedInAt)
  if (typeof sessionId !== 'string' || !/^[\w-]{1,64}$/.test(sessionId)) return null
  if (Number.isNaN(at.getTime())) return null
  return {
    sessionId,
    browser: text(browser),
    os: text(os),
    signedInAt: at,
    held: held === true,
    end: () => post(`sessions/${sessionId}/report`),
    approve: () => post(`sessions/${sessionId}/approve`),
  }
}

/**
 * A POST to a session route beside the events route (`/session/events` →
 * `/session/sessions/:id/report`), with the ward's credentials: cookies (the origin check is the
 * CSRF defence) and the `headers` option. True on 2xx, and on 404 for a report (that session had
 * ended already).
 */
function poster(options: NewDeviceOptions): (path: string) => Promise<boolean> {
  const send = options.fetch ?? ((url, init) => fetch(url, init))
  return async (path) => {
    const url = new URL(path, new URL(options.eventsUrl as string, location.href))
    try {
      const response = await send(url.href, {
        method: 'POST',
        headers: await headersFrom(options.headers),
        credentials: 'same-origin',
      })
      return response.ok || (response.status === 404 && path.endsWith('/report'))
    } catch {
      return false
    }
  }
}

/**
 * A `new-device` event, heard on this tab's events channel or told by the tab that holds it:
 * `sessionward:new-device` on `window` for apps that draw their own notice, and the default
 * notice when `notice` (the full entry with `dialog` on).
 * @example
 * heard(data, options, true)
 */
export function heard(data: unknown, options: NewDeviceOptions, notice: boolean): void {
  const detail = readNewDevice(data, poster(options))
  if (detail === null) return
  if (options.debug) console.debug('sessionward: new-device sign-in', detail)
  window.dispatchEvent(new CustomEvent('sessionward:new-device', { detail }))
  if (notice) {
    import('./new-device-notice.ts').then(
      ({ showNotice }) => showNotice(document, detail, options),
      (error) => console.warn('sessionward: new-device notice not loaded', error),
    )
  }
}
