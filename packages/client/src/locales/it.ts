import type { DialogLocale } from './index.ts'

/** Italian. */
const locale: DialogLocale = {
  tag: 'it',
  texts: {
    title: 'Sei ancora lì?',
    message: 'Per la tua sicurezza, la sessione verrà chiusa tra {time}.',
    stay: 'Rimani connesso',
    logout: 'Esci',
  },
}

export default locale
