import type { DialogLocale } from './index.ts'

/** German. */
const locale: DialogLocale = {
  tag: 'de',
  texts: {
    title: 'Sind Sie noch da?',
    message: 'Zu Ihrer Sicherheit werden Sie in {time} abgemeldet.',
    stay: 'Angemeldet bleiben',
    logout: 'Abmelden',
  },
}

export default locale
