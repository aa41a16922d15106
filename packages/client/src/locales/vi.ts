import type { DialogLocale } from './index.ts'

/** Vietnamese. */
const locale: DialogLocale = {
  tag: 'vi',
  texts: {
    title: 'Bạn vẫn đang ở đây chứ?',
    message: 'Vì lý do bảo mật, bạn sẽ bị đăng xuất sau {time}.',
    stay: 'Duy trì đăng nhập',
    logout: 'Đăng xuất',
  },
}

export default locale
