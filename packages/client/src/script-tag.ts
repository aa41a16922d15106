import { TEXT_KEYS } from './locales/index.ts'
import type { SessionWardOptions } from './options.ts'
import { createSessionWard, type SessionWard } from './ward.ts'

/** What the script tag exposes as `window.SessionWard`. */
export interface SessionWardGlobal {
  /** The instance started from the tag's data- attributes, or null without `data-ping-url`. */
  ward: SessionWard | null
  createSessionWard: typeof createSessionWard
}

const STRINGS = [
  'pingUrl',
  'logoutUrl',
  'redirectTo',
  'eventsUrl',
  'nonce',
  'channelName',
  'channelType',
  'locale',
]
const NUMBERS = ['warnAfter', 'expireAfter']
const FLAGS = ['dialog', 'media', 'debug', 'endOnScreenLock']

/**
 * Reads options from a script tag's data- attributes: every string or number option as its
 * kebab-case name (`data-ping-url`, `data-warn-after="840"`, seconds for times), the flags
 * `data-dialog` (`false` for headless), `data-media` and `data-debug` (present, empty or `true`
 * for on), `data-events-url` (`false` or empty: no events channel), `data-activity-events`
 * (event names separated by spaces or commas), `data-locale` (`de`, `pt-BR`: the dialog's
 * language; without it the page's `<html lang>` picks it) and the dialog texts as
 * `data-text-title`, ….
 * Returns null when there is no `data-ping-url`.
 * @example
 * // <script src="sessionward.iife.js" data-ping-url="/session/ping" data-warn-after="20">
 * optionsFromDataset(script.dataset) // { pingUrl: '/session/ping', warnAfter: 20 }
 */
export function optionsFromDataset(data: DOMStringMap): SessionWardOptions | null {
  if (data.pingUrl === undefined) return null
  const record: Record<string, unknown> = {}
  for (const key of STRINGS) if (data[key] !== undefined) record[key] = data[key]
  // A value that is not a number stays a string, so validation names it in its error.
  for (const key of NUMBERS) {
    const value = data[key]
    if (value !== undefined)
      record[key] = value.trim() !== '' && Number.isFinite(+value) ? +value : value
  }
  // `false` or an empty value turns the events channel off.
  if (data.eventsUrl === 'false' || data.eventsUrl === '') record.eventsUrl = false
  // Anything but `false`, `true` or empty stays a string, for validation to name.
  for (const key of FLAGS) {
    const value = data[key]
    if (value !== undefined)
      record[key] = value === 'false' ? false : value === '' || value === 'true' || value
  }
  if (data.activityEvents !== undefined) {
    record.activityEvents = data.activityEvents.split(/[\s,]+/).filter(Boolean)
  }
  const texts: Record<string, string> = {}
  for (const key of TEXT_KEYS) {
    const value = data[`text${key[0]?.toUpperCase()}${key.slice(1)}`]
    if (value !== undefined) texts[key] = value
  }
  if (Object.keys(texts).length > 0) record.texts = texts
  return record as unknown as SessionWardOptions
}

/**
 * The script-tag entry: starts a ward from the tag's data- attributes (if it has a
 * `data-ping-url`) and returns what `window.SessionWard` exposes. `expose` receives it before
 * the options are read, so a bad attribute throws its clear error while the page can still
 * fall back to `createSessionWard`.
 * @example
 * boot(document.currentScript, (global) => { window.SessionWard = global })
 */
export function boot(
  script: HTMLOrSVGScriptElement | null,
  expose: (global: SessionWardGlobal) => void = () => {},
): SessionWardGlobal {
  const global: SessionWardGlobal = { ward: null, createSessionWard }
  expose(global)
  const options = script === null ? null : optionsFromDataset(script.dataset)
  if (options !== null) {
    global.ward = createSessionWard(options)
    global.ward.start()
  }
  return global
}
