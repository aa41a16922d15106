import type { DialogLocale } from './index.ts'

/** English. */
const locale: DialogLocale = {
  tag: 'en',
  texts: {
    title: 'Are you still there?',
    message: 'For your security, you will be signed out in {time}.',
    stay: 'Stay signed in',
    logout: 'Sign out',
  },
}

export default locale
