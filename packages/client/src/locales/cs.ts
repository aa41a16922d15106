import type { DialogLocale } from './index.ts'

/** Czech. */
const locale: DialogLocale = {
  tag: 'cs',
  texts: {
    title: 'Jste tu ještě?',
    message: 'Z bezpečnostních důvodů budete odhlášeni. Zbývá: {time}',
    stay: 'Zůstat přihlášeni',
    logout: 'Odhlásit se',
  },
}

export default locale
