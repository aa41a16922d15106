import type { DialogLocale } from './index.ts'

/** Chinese (Simplified). */
const locale: DialogLocale = {
  tag: 'zh-CN',
  texts: {
    title: '您还在吗？',
    message: '为保障您的账户安全，您将在{time}后退出登录。',
    stay: '保持登录',
    logout: '退出登录',
  },
}

export default locale
