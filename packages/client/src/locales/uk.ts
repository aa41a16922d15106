import type { DialogLocale } from './index.ts'

/** Ukrainian. */
const locale: DialogLocale = {
  tag: 'uk',
  texts: {
    title: 'Ви ще тут?',
    message: 'З міркувань безпеки сеанс буде завершено. Залишилося: {time}',
    stay: 'Залишитися в системі',
    logout: 'Вийти',
  },
}

export default locale
