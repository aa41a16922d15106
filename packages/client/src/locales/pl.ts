import type { DialogLocale } from './index.ts'

/** Polish. */
const locale: DialogLocale = {
  tag: 'pl',
  texts: {
    title: 'Czy nadal tu jesteś?',
    message: 'Ze względów bezpieczeństwa sesja zostanie zakończona. Pozostało: {time}',
    stay: 'Kontynuuj sesję',
    logout: 'Wyloguj się',
  },
}

export default locale
