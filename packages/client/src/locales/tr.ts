import type { DialogLocale } from './index.ts'

/** Turkish. */
const locale: DialogLocale = {
  tag: 'tr',
  texts: {
    title: 'Hâlâ orada mısınız?',
    message: 'Güvenliğiniz için oturumunuz {time} içinde kapatılacak.',
    stay: 'Oturumu açık tut',
    logout: 'Oturumu kapat',
  },
}

export default locale
