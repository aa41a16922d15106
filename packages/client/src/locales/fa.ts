import type { DialogLocale } from './index.ts'

/** Persian, right to left. */
const locale: DialogLocale = {
  tag: 'fa',
  dir: 'rtl',
  texts: {
    title: 'هنوز اینجا هستید؟',
    message: 'برای حفظ امنیت شما، تا {time} دیگر از حساب خود خارج می‌شوید.',
    stay: 'ادامهٔ نشست',
    logout: 'خروج',
  },
}

export default locale
