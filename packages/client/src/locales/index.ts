/**
 * The dialog's locales: which ones ship, and which one a BCP 47 tag gets. The texts themselves
 * live one file per locale beside this one (`./de.ts`, …), loaded only when asked for, so
 * neither bundle carries them.
 */

/** Every text of the default dialog; replace any of them with the `texts` option. */
export interface DialogTexts {
  title: string
  /** `{time}` marks where the countdown goes; without it the countdown follows the text. */
  message: string
  stay: string
  logout: string
}

/**
 * The names of the texts, in the order of `DialogTexts`: options are checked against these
 * without the English texts themselves (the headless entry carries no texts).
 */
export const TEXT_KEYS: readonly (keyof DialogTexts)[] = ['title', 'message', 'stay', 'logout']

/**
 * A dialog language: what `@sessionward/client/locales/<tag>` exports, and what an app passes
 * as `locale` for a language that does not ship.
 * @example
 * const locale: DialogLocale = { tag: 'ur', dir: 'rtl', texts: { title: '…', message: '… {time}', stay: '…', logout: '…' } }
 */
export interface DialogLocale {
  /** BCP 47 tag: the dialog's `lang`, and the language its numbers and durations are in. */
  tag: string
  /** `rtl` for right-to-left scripts (Arabic, Hebrew, Persian); `ltr` when omitted. */
  dir?: 'ltr' | 'rtl'
  texts: DialogTexts
}

/**
 * The tags that ship, English included (it is built in). django-session-security's ten
 * (ca, cs, de, es, fr, it, nl, pl, pt, pt-BR) and the most used languages of the web.
 */
export const LOCALES = [
  'ar',
  'ca',
  'cs',
  'de',
  'en',
  'es',
  'fa',
  'fr',
  'he',
  'hi',
  'id',
  'it',
  'ja',
  'ko',
  'nl',
  'pl',
  'pt',
  'pt-BR',
  'ru',
  'sv',
  'tr',
  'uk',
  'vi',
  'zh-CN',
  'zh-TW',
] as const

/** A tag that ships. */
export type LocaleTag = (typeof LOCALES)[number]

/**
 * The shipped locale for a BCP 47 tag: the tag with its region (`pt-BR`), else its language
 * (`de-AT` → `de`, `pt-AO` → `pt`); Chinese by script (`zh-HK` → `zh-TW`, `zh` → `zh-CN`).
 * Null for anything else, a malformed tag included: the caller shows English.
 * @example
 * matchLocale('pt-BR') // 'pt-BR'
 * matchLocale('de-CH') // 'de'
 * matchLocale('tlh')   // null
 */
export function matchLocale(requested: string): LocaleTag | null {
  try {
    // Canonical on the way: `pt-br` is `pt-BR`, `iw` is `he`.
    const locale = new Intl.Locale(requested)
    const { language, region } = locale
    const found =
      language === 'zh'
        ? locale.maximize().script === 'Hant'
          ? 'zh-TW'
          : 'zh-CN'
        : [`${language}-${region}`, language].find((tag) =>
            (LOCALES as readonly string[]).includes(tag),
          )
    return (found as LocaleTag | undefined) ?? null
  } catch {
    return null
  }
}
