import type { DialogLocale } from './index.ts'

/** French. */
const locale: DialogLocale = {
  tag: 'fr',
  texts: {
    title: 'Êtes-vous toujours là ?',
    message: 'Pour votre sécurité, votre session sera fermée dans {time}.',
    stay: 'Rester connecté',
    logout: 'Se déconnecter',
  },
}

export default locale
