import type { DialogLocale } from './index.ts'

/** Japanese. */
const locale: DialogLocale = {
  tag: 'ja',
  texts: {
    title: 'まだご利用中ですか？',
    message: 'セキュリティのため、あと{time}でログアウトします。',
    stay: 'ログインを続ける',
    logout: 'ログアウト',
  },
}

export default locale
