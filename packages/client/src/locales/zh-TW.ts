import type { DialogLocale } from './index.ts'

/** Chinese (Traditional). */
const locale: DialogLocale = {
  tag: 'zh-TW',
  texts: {
    title: '您還在嗎？',
    message: '為保障您的帳戶安全，您將在{time}後登出。',
    stay: '保持登入',
    logout: '登出',
  },
}

export default locale
