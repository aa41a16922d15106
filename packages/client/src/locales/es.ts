import type { DialogLocale } from './index.ts'

/** Spanish. */
const locale: DialogLocale = {
  tag: 'es',
  texts: {
    title: '¿Sigue ahí?',
    message: 'Por su seguridad, la sesión se cerrará en {time}.',
    stay: 'Mantener la sesión',
    logout: 'Cerrar sesión',
  },
}

export default locale
