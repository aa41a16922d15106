/**
 * How long a device is known after its last sign-in (seconds): the device cookie's life, the
 * longest browsers keep a cookie (400 days, RFC 6265bis). Past it no cookie can name the device,
 * so its row is dropped at the user's next sign-in.
 */
export const DEVICE_KEPT = 400 * 24 * 3600

/** A device a user signed in from, as the account API and the admin view show it. */
export interface KnownDevice {
  id: string
  userId: string
  firstSeenAt: Date
  lastSeenAt: Date
  /** From the user agent of its latest sign-in; null when the parser names none. */
  browser: string | null
  os: string | null
}

/** What a sign-in learnt of its device. */
export interface DeviceSighting {
  device: KnownDevice
  /** The user signed in from other devices before and never from this one. */
  isNew: boolean
}

/** A report link's use: the session it names, and whether it could be used. */
export type ReportUse =
  | { kind: 'valid'; sessionId: string; userId: string }
  | { kind: 'refused'; why: 'unknown' | 'used' | 'expired' }

/**
 * A new-device sign-in as the user's other sessions hear it (their `/session/events` streams,
 * on every instance): which session signed in, from what, when.
 */
export interface NewDeviceNotice {
  /** The user's other live sessions, whose streams are told. */
  toSessionIds: string[]
  /** The new session: `POST /session/sessions/:id/report` ends it. */
  sessionId: string
  browser: string | null
  os: string | null
  /** When it signed in (ms). */
  at: number
  /** It waits for approval (`newDevice.hold`): "Yes, it was me" lets it in. */
  held?: boolean
}

/**
 * A device as JSON answers show it (the account API's list, the admin view): no user, no hash.
 *
 * @example
 * c.json({ devices: devices.map(describeDevice) })
 */
export function describeDevice(device: KnownDevice) {
  return {
    id: device.id,
    browser: device.browser,
    os: device.os,
    firstSeenAt: device.firstSeenAt.toISOString(),
    lastSeenAt: device.lastSeenAt.toISOString(),
  }
}
