import type { DialogLocale } from './index.ts'

/** Catalan. */
const locale: DialogLocale = {
  tag: 'ca',
  texts: {
    title: 'Encara hi ets?',
    message: 'Per la teva seguretat, la sessió es tancarà d’aquí a {time}.',
    stay: 'Mantén la sessió iniciada',
    logout: 'Tanca la sessió',
  },
}

export default locale
