import type { ResolvedOptions } from './options.ts'

/** What `sessionward:new-device` carries: the sign-in, and what ends or approves it. */
export interface NewDeviceDetail {
  /** The new session (`POST …/sessions/:id/report` ends it). */
  sessionId: string
  /** From its user agent; null when the server could not tell. */
  browser: string | null
  os: string | null
  /** When it signed in. */
  signedInAt: Date
  /** It waits for approval (the server's `newDevice: { hold: true }`): `approve()` lets it in. */
  held: boolean
  /**
   * "Not you?": ends that session with reason `reported` (on every instance, and in its browser
   * at once). True when the server ended it (or it had ended already).
   */
  end(): Promise<boolean>
  /** "Yes, it was me": lets a held session in. True when the server approved it. */
  approve(): Promise<boolean>
}

/**
 * What reading a `new-device` event needs of the ward's options (`channelName`: the notices of
 * one sign-in in the app's tabs close together; `sessionward` when not given).
 */
export type NewDeviceOptions = Pick<
  ResolvedOptions,
  'eventsUrl' | 'headers' | 'fetch' | 'locale' | 'nonce' | 'debug'
> &
  Partial<Pick<ResolvedOptions, 'channelName'>>
