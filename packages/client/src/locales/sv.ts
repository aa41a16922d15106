import type { DialogLocale } from './index.ts'

/** Swedish. */
const locale: DialogLocale = {
  tag: 'sv',
  texts: {
    title: 'Är du kvar?',
    message: 'Av säkerhetsskäl loggas du ut om {time}.',
    stay: 'Förbli inloggad',
    logout: 'Logga ut',
  },
}

export default locale
