import type { DialogLocale } from './index.ts'

/** Portuguese (Portugal). */
const locale: DialogLocale = {
  tag: 'pt',
  texts: {
    title: 'Ainda está aí?',
    message: 'Por motivos de segurança, a sessão será terminada dentro de {time}.',
    stay: 'Manter sessão iniciada',
    logout: 'Terminar sessão',
  },
}

export default locale
