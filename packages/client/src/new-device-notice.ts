import type { LocaleTag } from './locales/index.ts'
import type { NewDeviceDetail, NewDeviceOptions } from './new-device-detail.ts'
import { NOTICE_TEXTS, type NoticeTexts } from './notice-texts.ts'
import { adoptStyles } from './styles.ts'

/** The element the notices live in (one per page, in an open shadow root). */
export const NOTICE_HOST = 'sessionward-notice'

/**
 * Non-modal, in a corner: the page stays usable and nothing takes focus. The dialog's theme
 * (`--sessionward-*`) applies.
 */
const CSS = `
:host{all:initial!important}
[part=stack]{position:fixed;inset-block-end:1rem;inset-inline-end:1rem;z-index:2147483647;display:flex;flex-direction:column;gap:.5rem;max-width:min(26rem,calc(100vw - 2rem))}
[part=notice]{box-sizing:border-box;padding:1rem 1.25rem;border-radius:var(--sessionward-radius,12px);background:var(--sessionward-bg,#fff);color:var(--sessionward-fg,#1b1b1f);font:var(--sessionward-font,1rem/1.5 system-ui,sans-serif);box-shadow:var(--sessionward-shadow,0 12px 40px rgb(0 0 0/.25));border-inline-start:4px solid var(--sessionward-accent,#0b57d0)}
p{margin:0 0 .75rem}
[part=actions]{display:flex;flex-wrap:wrap;gap:.5rem;align-items:center}
button{font:inherit;padding:.375rem .875rem;border:1px solid var(--sessionward-accent,#0b57d0);border-radius:var(--sessionward-button-radius,8px);cursor:pointer;background:none;color:var(--sessionward-accent,#0b57d0)}
[part=end]{background:var(--sessionward-accent,#0b57d0);color:var(--sessionward-accent-fg,#fff)}
button:focus-visible{outline:3px solid var(--sessionward-focus,#0b57d0);outline-offset:2px}
button:disabled{opacity:.6;cursor:progress}
`

/** The notice's language: its tag, texts and direction. */
export interface NoticeLocale {
  tag: string
  texts: NoticeTexts
  dir: 'ltr' | 'rtl'
}

/**
 * The shipped notice texts for a BCP 47 tag: its language and region, else its language;
 * Chinese by script. Not the dialog's `matchLocale`: importing it here would keep it in the
 * bundle of every headless app (the core's chunk holds the locale list), for a rare notice.
 */
function shippedTag(wanted: string): LocaleTag | null {
  try {
    const { language, region, script } = new Intl.Locale(wanted).maximize()
    const zh = script === 'Hant' ? 'zh-TW' : 'zh-CN'
    const tags = language === 'zh' ? [zh] : [`${language}-${region}`, language]
    return (tags.find((tag) => Object.hasOwn(NOTICE_TEXTS, tag)) as LocaleTag | undefined) ?? null
  } catch {
    return null
  }
}

/**
 * The notice's language, as the dialog picks its own: the `locale` option (a tag, or a locale
 * object whose tag is used), else the page's `<html lang>`; English for anything not shipped.
 * @example
 * noticeLocale('de-AT', '').texts.notYou // 'Nicht Sie?'
 */
export function noticeLocale(asked: unknown, pageLang: string): NoticeLocale {
  const wanted = typeof asked === 'string' ? asked : (Object(asked).tag ?? pageLang)
  const shipped = typeof wanted === 'string' ? shippedTag(wanted) : null
  const { rtl, ...texts } = NOTICE_TEXTS[shipped ?? 'en']
  return { tag: shipped ? wanted : 'en', texts, dir: rtl ? 'rtl' : 'ltr' }
}

/**
 * The notice's sentence: "New sign-in: Firefox on Windows, just now." (minutes ago in the
 * locale's words once older than a minute).
 * @example
 * describeSignIn(noticeLocale('en', ''), { browser: 'Firefox', os: 'Windows', signedInAt: new Date() }, Date.now())
 */
export function describeSignIn(
  { tag, texts }: NoticeLocale,
  { browser, os, signedInAt }: Pick<NewDeviceDetail, 'browser' | 'os' | 'signedInAt'>,
  now: number,
): string {
  const device =
    browser && os
      ? texts.device.replace('{browser}', browser).replace('{os}', os)
      : (browser ?? os ?? texts.unknown)
  const minutes = Math.floor((now - signedInAt.getTime()) / 60_000)
  const when =
    minutes < 1
      ? texts.justNow
      : new Intl.RelativeTimeFormat(tag, { numeric: 'auto' }).format(-minutes, 'minute')
  return texts.title.replace('{device}', device).replace('{when}', when)
}

/** The page's one notice host and the stack the notices go in, made on first use. */
function stackOf(doc: Document, nonce: string | null | undefined): HTMLElement {
  const found = doc.querySelector(NOTICE_HOST)?.shadowRoot?.querySelector<HTMLElement>('div')
  if (found) return found
  const host = doc.createElement(NOTICE_HOST)
  const shadow = host.attachShadow({ mode: 'open' })
  adoptStyles(shadow, CSS, nonce)
  const stack = doc.createElement('div')
  stack.setAttribute('part', 'stack')
  shadow.append(stack)
  doc.body.append(host)
  return stack
}

/**
 * The channel on which a tab tells the app's other tabs that a sign-in was answered (its
 * session id), so that their notices of it close: one per notice, closed with it. The lazy
 * module's own, on the browser's BroadcastChannel (every engine the notice targets has it;
 * without it each tab's notice stays until answered there): the script tag has no bytes left
 * for another message on the ward's channel, and only a tab showing a notice listens.
 */
function answersOf(channelName = 'sessionward'): BroadcastChannel | null {
  return typeof BroadcastChannel === 'function'
    ? new BroadcastChannel(`${channelName}:new-device`)
    : null
}

/**
 * Shows the default new-device notice: a non-modal region in a corner of the page, whose
 * sentence is a polite live region (announced without taking focus), with "Not you? End that
 * session" (ends it `reported`) and "Yes, it was me" (dismisses it; approves a held session).
 * Built with DOM calls in a shadow root, like the dialog: no inline style, the page's CSS does
 * not reach it. Once the sign-in is answered in one tab (ended, or let in), its notice closes
 * in the app's other tabs (`channelName`). Returns the notice's element.
 * @example
 * showNotice(document, detail, { locale: 'de', nonce: null })
 */
export function showNotice(
  doc: Document,
  detail: NewDeviceDetail,
  options: Pick<NewDeviceOptions, 'locale' | 'nonce' | 'channelName'>,
  now = Date.now(),
): HTMLElement {
  const locale = noticeLocale(options.locale, doc.documentElement.lang)
  const { texts } = locale
  const el = <K extends keyof HTMLElementTagNameMap>(tag: K, name: string, text = '') => {
    const node = doc.createElement(tag)
    node.setAttribute('part', name)
    node.dataset.sessionward = `notice-${name}`
    node.textContent = text
    return node
  }
  const sentence = describeSignIn(locale, detail, now)
  const notice = el('section', 'notice')
  notice.setAttribute('lang', locale.tag)
  notice.setAttribute('dir', locale.dir)
  notice.setAttribute('aria-label', texts.notYou)
  const message = el('p', 'message')
  // A polite live region: screen readers announce the sentence when it is filled in (a region
  // present before its text changes is announced reliably), and focus stays where it was.
  message.setAttribute('role', 'status')
  const actions = el('div', 'actions')
  const question = el('span', 'question', texts.notYou)
  const end = el('button', 'end', texts.end)
  const ok = el('button', 'ok', texts.itWasMe)
  for (const button of [end, ok]) button.setAttribute('type', 'button')
  actions.append(question, end, ok)
  notice.append(message, actions)
  stackOf(doc, options.nonce).append(notice)
  const answers = answersOf(options.channelName)
  const close = (): void => {
    notice.remove()
    answers?.close()
  }
  if (answers) {
    answers.onmessage = ({ data }) => {
      if (data === detail.sessionId) close()
    }
  }
  /** Answered here: the other tabs' notices of this sign-in close. */
  const tell = (): void => answers?.postMessage(detail.sessionId)
  setTimeout(() => {
    // Unless an answer came first (and said what happened).
    message.textContent ||= sentence
  })

  const busy = (on: boolean): void => {
    end.disabled = on
    ok.disabled = on
  }
  end.addEventListener('click', async () => {
    busy(true)
    if (await detail.end()) {
      tell()
      message.textContent = texts.ended
      const closer = el('button', 'close', texts.close)
      closer.setAttribute('type', 'button')
      closer.addEventListener('click', close)
      actions.replaceChildren(closer)
      // The button pressed is gone: focus moves to the one that replaced it, not to the page.
      closer.focus()
      return
    }
    message.textContent = `${sentence} ${texts.failed}`
    busy(false)
  })
  ok.addEventListener('click', async () => {
    busy(true)
    // A held session is let in; otherwise "it was me" only dismisses the notice.
    if (!detail.held || (await detail.approve())) {
      tell()
      close()
    } else {
      message.textContent = `${sentence} ${texts.failed}`
      busy(false)
    }
  })
  return notice
}
