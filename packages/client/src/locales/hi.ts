import type { DialogLocale } from './index.ts'

/** Hindi. */
const locale: DialogLocale = {
  tag: 'hi',
  texts: {
    title: 'क्या आप अभी भी यहाँ हैं?',
    message: 'आपकी सुरक्षा के लिए, आपको {time} में साइन आउट कर दिया जाएगा।',
    stay: 'साइन इन रहें',
    logout: 'साइन आउट करें',
  },
}

export default locale
