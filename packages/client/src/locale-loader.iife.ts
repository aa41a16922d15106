import type { DialogLocale, LocaleTag } from './locales/index.ts'

/** The end of the bundle's name: a file beside it replaces it (`.js` → `.extras.js`). */
const BUNDLE_JS = /\.js(?=[?#]|$)/

/**
 * The script-tag build's loader (it replaces `locale-loader.ts` there): the bundle carries no
 * texts; each locale is a JSON file the server serves next to the bundle. Its URL comes from the
 * bundle's own: `…/sessionward.js` → `…/sessionward.locale.de.json`, and a versioned
 * `…/sessionward-0.1.0-<digest>.js` → `…/sessionward-0.1.0-<digest>.locale.de.json`.
 * @example
 * localeUrl('https://app.example/session/sessionward.js', 'de')
 * // 'https://app.example/session/sessionward.locale.de.json'
 */
export const localeUrl = (script: string, tag: LocaleTag): string =>
  script.replace(BUNDLE_JS, `.locale.${tag}.json`)

// Read while the bundle runs: `currentScript` is only set then.
const script = (document.currentScript as HTMLScriptElement | null)?.src

/** A file next to this bundle (its locales, its extras): `extras.js` → `…/sessionward.extras.js`. */
export const besideBundle = (name: string): string =>
  (script as string).replace(BUNDLE_JS, `.${name}`)

/**
 * Fetches a locale's JSON; rejects when it is not there, or when the bundle has no URL of its
 * own (inlined, or bundled into a module): the dialog then stays in English.
 */
export async function loadLocale(tag: LocaleTag): Promise<DialogLocale> {
  const response = await fetch(besideBundle(`locale.${tag}.json`))
  return response.ok ? response.json() : Promise.reject(response.status)
}
