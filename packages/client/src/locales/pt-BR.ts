import type { DialogLocale } from './index.ts'

/** Portuguese (Brazil). */
const locale: DialogLocale = {
  tag: 'pt-BR',
  texts: {
    title: 'Você ainda está aí?',
    message: 'Por segurança, sua sessão será encerrada em {time}.',
    stay: 'Continuar conectado',
    logout: 'Sair',
  },
}

export default locale
