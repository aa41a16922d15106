import type { DialogLocale } from './index.ts'

/** Arabic, right to left. */
const locale: DialogLocale = {
  tag: 'ar',
  dir: 'rtl',
  texts: {
    title: 'هل ما زلت هنا؟',
    message: 'حفاظًا على أمانك، سيتم تسجيل خروجك تلقائيًا. الوقت المتبقي: {time}',
    stay: 'متابعة الجلسة',
    logout: 'تسجيل الخروج',
  },
}

export default locale
