import en from './locales/en.ts'
import type { DialogLocale, LocaleTag } from './locales/index.ts'

/**
 * The npm build's loader: each locale is its own chunk (`dist/locales/<tag>.js`), imported the
 * first time a ward asks for it, so an app's bundle holds only the languages it shows. The
 * script-tag build replaces this module with `locale-loader.iife.ts` (see vite.config.ts).
 */
const LOADERS: Record<LocaleTag, () => Promise<{ default: DialogLocale }>> = {
  ar: () => import('./locales/ar.ts'),
  ca: () => import('./locales/ca.ts'),
  cs: () => import('./locales/cs.ts'),
  de: () => import('./locales/de.ts'),
  // Built in (the dialog's default): a dynamic import of a module the bundle holds anyway would
  // make bundlers wrap it in a module namespace object (about 70 bytes gzipped).
  en: async () => ({ default: en }),
  es: () => import('./locales/es.ts'),
  fa: () => import('./locales/fa.ts'),
  fr: () => import('./locales/fr.ts'),
  he: () => import('./locales/he.ts'),
  hi: () => import('./locales/hi.ts'),
  id: () => import('./locales/id.ts'),
  it: () => import('./locales/it.ts'),
  ja: () => import('./locales/ja.ts'),
  ko: () => import('./locales/ko.ts'),
  nl: () => import('./locales/nl.ts'),
  pl: () => import('./locales/pl.ts'),
  pt: () => import('./locales/pt.ts'),
  'pt-BR': () => import('./locales/pt-BR.ts'),
  ru: () => import('./locales/ru.ts'),
  sv: () => import('./locales/sv.ts'),
  tr: () => import('./locales/tr.ts'),
  uk: () => import('./locales/uk.ts'),
  vi: () => import('./locales/vi.ts'),
  'zh-CN': () => import('./locales/zh-CN.ts'),
  'zh-TW': () => import('./locales/zh-TW.ts'),
}

/**
 * The texts of a shipped locale.
 * @example
 * const { texts } = await loadLocale('de') // texts.stay === 'Angemeldet bleiben'
 */
export async function loadLocale(tag: LocaleTag): Promise<DialogLocale> {
  return (await LOADERS[tag]()).default
}
