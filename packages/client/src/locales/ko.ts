import type { DialogLocale } from './index.ts'

/** Korean. */
const locale: DialogLocale = {
  tag: 'ko',
  texts: {
    title: '아직 계신가요?',
    message: '보안을 위해 {time} 후에 로그아웃됩니다.',
    stay: '로그인 유지',
    logout: '로그아웃',
  },
}

export default locale
