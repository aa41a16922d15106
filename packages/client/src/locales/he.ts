import type { DialogLocale } from './index.ts'

/** Hebrew, right to left. */
const locale: DialogLocale = {
  tag: 'he',
  dir: 'rtl',
  texts: {
    title: 'אתם עדיין כאן?',
    message: 'מטעמי אבטחה, תנותקו מהחשבון בעוד {time}.',
    stay: 'הישארו מחוברים',
    logout: 'התנתקות',
  },
}

export default locale
