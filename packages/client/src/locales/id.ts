import type { DialogLocale } from './index.ts'

/** Indonesian. */
const locale: DialogLocale = {
  tag: 'id',
  texts: {
    title: 'Apakah Anda masih di sana?',
    message: 'Demi keamanan Anda, Anda akan dikeluarkan dalam {time}.',
    stay: 'Tetap masuk',
    logout: 'Keluar',
  },
}

export default locale
