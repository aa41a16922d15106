import type { DialogLocale } from './index.ts'

/** Russian. */
const locale: DialogLocale = {
  tag: 'ru',
  texts: {
    title: 'Вы ещё здесь?',
    message: 'В целях безопасности сеанс будет завершён. Осталось: {time}',
    stay: 'Остаться в системе',
    logout: 'Выйти',
  },
}

export default locale
