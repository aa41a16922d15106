import { readdirSync } from 'node:fs'
import { describe, expect, test } from 'vitest'
import { DEFAULT_TEXTS } from '../dialog.ts'
import { loadLocale } from '../locale-loader.ts'
import { LOCALES, matchLocale, TEXT_KEYS } from './index.ts'

const KEYS = Object.keys(DEFAULT_TEXTS).sort()
const RIGHT_TO_LEFT = ['ar', 'fa', 'he']

describe('locales', () => {
  test('django-session-security’s ten, Arabic and Hebrew among them, and at least 12 in all', () => {
    for (const tag of ['ca', 'cs', 'de', 'es', 'fr', 'it', 'nl', 'pl', 'pt', 'pt-BR', 'ar', 'he']) {
      expect(LOCALES).toContain(tag)
    }
    expect(LOCALES.length).toBeGreaterThanOrEqual(12)
  })

  test('TEXT_KEYS names the English texts, in their order', () => {
    expect(TEXT_KEYS).toEqual(Object.keys(DEFAULT_TEXTS))
  })

  test('the list is the files: one module per tag, nothing else', () => {
    const files = readdirSync(import.meta.dirname)
      .filter((name) => !name.startsWith('index.'))
      .map((name) => name.replace(/\.ts$/, ''))
    expect(files.sort()).toEqual([...LOCALES].sort())
  })

  test.each(LOCALES)(
    '%s has every text, {time} once in its message, and its own tag',
    async (tag) => {
      const locale = await loadLocale(tag)
      expect(locale.tag).toBe(tag)
      expect(Object.keys(locale.texts).sort()).toEqual(KEYS)
      for (const text of Object.values(locale.texts)) {
        expect(text.trim()).not.toBe('')
        expect(text).toBe(text.trim())
      }
      expect(locale.texts.message.split('{time}')).toHaveLength(2)
      // Short like the English: a dialog, not a page.
      for (const key of KEYS as (keyof typeof DEFAULT_TEXTS)[]) {
        expect(locale.texts[key].length).toBeLessThanOrEqual(DEFAULT_TEXTS[key].length * 2 + 10)
      }
      expect(locale.dir ?? 'ltr').toBe(RIGHT_TO_LEFT.includes(tag) ? 'rtl' : 'ltr')
    },
  )

  test.each([
    ['de', 'de'],
    ['de-AT', 'de'],
    ['pt-BR', 'pt-BR'],
    ['pt-br', 'pt-BR'],
    ['pt-PT', 'pt'],
    ['pt-AO', 'pt'],
    ['pt', 'pt'],
    ['zh-CN', 'zh-CN'],
    ['zh', 'zh-CN'],
    ['zh-Hans', 'zh-CN'],
    ['zh-SG', 'zh-CN'],
    ['zh-TW', 'zh-TW'],
    ['zh-HK', 'zh-TW'],
    ['zh-Hant', 'zh-TW'],
    ['ar-EG', 'ar'],
    ['ar-u-nu-latn', 'ar'],
    ['he-IL', 'he'],
    ['iw', 'he'],
    ['en-GB', 'en'],
    ['es-419', 'es'],
  ])('%s gets %s', (asked, tag) => {
    expect(matchLocale(asked)).toBe(tag)
  })

  test.each(['', 'tlh', 'sw-KE', 'en_US', 'not a tag', '../../etc/passwd'])(
    '%j gets none (the dialog shows English), without throwing',
    (asked) => {
      expect(matchLocale(asked)).toBeNull()
    },
  )
})
