import type { DialogLocale } from './index.ts'

/** Dutch. */
const locale: DialogLocale = {
  tag: 'nl',
  texts: {
    title: 'Bent u er nog?',
    message: 'Voor uw veiligheid wordt u over {time} afgemeld.',
    stay: 'Aangemeld blijven',
    logout: 'Afmelden',
  },
}

export default locale
