import { loadLocale } from './locale-loader.ts'
import en from './locales/en.ts'
import { type DialogLocale, type DialogTexts, matchLocale } from './locales/index.ts'
import { adoptStyles } from './styles.ts'

export type { DialogLocale, DialogTexts } from './locales/index.ts'

/** The English texts, built in: shown until (or unless) another locale's arrive. */
export const DEFAULT_TEXTS: DialogTexts = en.texts

export interface Dialog {
  /** Opens the dialog if needed and shows the time left (ms) out of the warning period (ms). */
  show(remaining: number, total: number): void
  hide(): void
  /** Whether it is open: while it is, only an answer in it (or the app) dismisses the warning. */
  isOpen(): boolean
  /** Settles once the asked-for texts are in, or could not be loaded (English stays). */
  ready: Promise<unknown>
  /** Removes the element and its stylesheet. */
  destroy(): void
}

export interface DialogOptions {
  /** The app's own texts: each replaces the locale's. */
  texts: Partial<DialogTexts>
  /** A tag (`de`, `pt-BR`) or the texts themselves; null: the page's `<html lang>`. */
  locale?: string | DialogLocale | null
  nonce?: string | null
  onStay(): void
  onLogout(): void
}

/** The element the dialog lives in, in an open shadow root: the page's CSS does not reach it. */
export const HOST = 'sessionward-dialog'

/**
 * Applied inside the shadow root only. `:host{all:initial}` stops inherited page styles (text
 * transforms, letter spacing…) at the host; custom properties still inherit, so the
 * `--sessionward-*` theme set on the page applies. See the README. One rule a line: the
 * minifier joins them into one string, without line ends.
 */
export const CSS =
  ':host{all:initial!important}' +
  'dialog{box-sizing:border-box;width:var(--sessionward-width,28rem);padding:1.5rem;border:0;border-radius:var(--sessionward-radius,12px);background:var(--sessionward-bg,#fff);color:var(--sessionward-fg,#1b1b1f);font:var(--sessionward-font,1rem/1.5 system-ui,sans-serif);box-shadow:var(--sessionward-shadow,0 12px 40px rgb(0 0 0/.25))}' +
  'dialog::backdrop{background:var(--sessionward-backdrop,rgb(0 0 0/.5))}' +
  'h2{margin:0 0 .5rem;font-size:1.25em;line-height:1.3}' +
  'p{margin:0 0 1rem}' +
  '[part=countdown]{font-weight:700;font-variant-numeric:tabular-nums}' +
  '[part=status]{position:absolute;clip-path:inset(50%)}' +
  '[part=bar]{height:.375rem;margin:0 0 1.25rem;border-radius:999px;overflow:hidden;background:var(--sessionward-track,#e3e3e8)}' +
  '[part=fill]{height:100%;width:calc(var(--sessionward-progress,1)*100%);background:var(--sessionward-accent,#0b57d0);transition:width 1s linear}' +
  '[part=actions]{display:flex;flex-wrap:wrap;gap:.75rem;justify-content:flex-end}' +
  'button{font:inherit;padding:.5rem 1rem;border:1px solid var(--sessionward-accent,#0b57d0);border-radius:var(--sessionward-button-radius,8px);cursor:pointer;background:none;color:var(--sessionward-accent,#0b57d0)}' +
  '[part=stay]{background:var(--sessionward-accent,#0b57d0);color:var(--sessionward-accent-fg,#fff)}' +
  'button:focus-visible{outline:3px solid var(--sessionward-focus,#0b57d0);outline-offset:2px}' +
  '@media (prefers-reduced-motion:reduce){[part=fill]{transition:none}}'

const secondsOf = (ms: number): number => Math.ceil(Math.max(0, ms) / 1000)

/**
 * Formats a countdown as m:ss in a locale's digits (`١:٠٥` in `ar-EG`), rounding up so it never
 * shows 0:00 while time is left.
 * @example
 * formatTime(65_000) // '1:05'
 */
export function formatTime(ms: number, tag = 'en'): string {
  const total = secondsOf(ms)
  const digits = (value: number, minimumIntegerDigits: number): string =>
    value.toLocaleString(tag, { minimumIntegerDigits })
  return `${digits(Math.floor(total / 60), 1)}:${digits(total % 60, 2)}`
}

/** `Intl.DurationFormat`, where the browser has it (TypeScript's libs do not know it yet). */
type DurationFormat = new (
  tag: string,
  options: { style: 'long' },
) => { format(duration: Record<string, number>): string }

/**
 * The time left in words, in the dialog's language: whole minutes from one minute up, rounded
 * down so it never promises more time than there is, else seconds. `Intl.DurationFormat` where
 * the browser has it, else `Intl.NumberFormat`'s units (the same words in every language
 * shipped).
 * @example
 * spokenTime(125_000, 'en') // '2 minutes'
 */
export function spokenTime(ms: number, tag: string): string {
  const seconds = secondsOf(ms)
  const [value, unit] = seconds < 60 ? [seconds, 'second'] : [Math.floor(seconds / 60), 'minute']
  const Duration = (Intl as unknown as { DurationFormat?: DurationFormat }).DurationFormat
  // `tag` is a valid one: a malformed page language never gets here (the dialog is English).
  return Duration
    ? new Duration(tag, { style: 'long' }).format({ [`${unit}s`]: value })
    : value.toLocaleString(tag, { style: 'unit', unit, unitDisplay: 'long' })
}

/**
 * Which announcement a time left belongs to: one per whole minute, then at 30 s and 10 s
 * (GOV.UK's timeout pattern), so a screen reader hears at most 3 in the last minute.
 */
function announcementOf(ms: number): number {
  const seconds = secondsOf(ms)
  return seconds > 60 ? Math.ceil(seconds / 60) : seconds > 30 ? 1 : seconds > 10 ? 0.5 : 0
}

/**
 * The default warning: a modal `<dialog role="alertdialog">` (the platform makes the page
 * behind inert and puts it in the top layer), Tab kept on its buttons, Escape = stay, a
 * countdown redrawn every second, a polite live region that announces it now and then, and a
 * progress bar. It lives in an open shadow root of a `<sessionward-dialog>` element, so the
 * page's CSS neither breaks nor restyles it. Built with DOM calls and a constructable
 * stylesheet, so it runs under a CSP without 'unsafe-inline'. Nothing touches the document
 * before the first `show`. Its language (`locale`, else the page's `<html lang>`) starts loading
 * here; it opens in English if the texts have not arrived by then, in theirs from the next time.
 * @example
 * const dialog = createDialog(document, { texts: {}, locale: 'de', nonce: null, onStay, onLogout })
 * dialog.show(30_000, 60_000)
 */
export function createDialog(doc: Document, options: DialogOptions): Dialog {
  // English until the asked-for texts arrive: the warning never waits for a file.
  let locale: DialogLocale = en
  let ready: Promise<unknown> = Promise.resolve()
  const asked = options.locale ?? doc.documentElement.lang
  if (typeof asked === 'object') locale = asked
  else {
    const tag = matchLocale(asked)
    // English is built in. The asked tag, not the file's, writes the numbers: `ar-EG` has
    // Arabic-Indic digits, `ar-MA` Latin ones.
    if (tag !== null && tag !== 'en') {
      ready = loadLocale(tag).then(
        (found) => {
          locale = { ...found, tag: asked }
        },
        (error) => console.warn('sessionward: locale not loaded', error),
      )
    }
  }
  let parts: {
    locale: DialogLocale
    before: string
    after: string
    host: HTMLElement
    shadow: ShadowRoot
    root: HTMLDialogElement
    countdown: HTMLElement
    status: HTMLElement
    stay: HTMLElement
  } | null = null
  let open = false
  // Generations: every showModal starts an opening; `answered` is the last one a close answered.
  let opening = 0
  let answered = 0
  let announced = 0
  let returnFocus: Element | null = null

  function stay(event: Event): void {
    event.preventDefault()
    options.onStay()
  }

  function build(): NonNullable<typeof parts> {
    // Each element carries its name as `part` (for `::part()` styling and the stylesheet) and
    // as `data-sessionward` (the stable hook for tests).
    const el = <K extends keyof HTMLElementTagNameMap>(
      tag: K,
      name: string,
      text = '',
      attributes: Record<string, string> = {},
    ): HTMLElementTagNameMap[K] => {
      const node = doc.createElement(tag)
      for (const [key, value] of Object.entries({ ...attributes, part: name })) {
        node.setAttribute(key, value)
      }
      node.dataset.sessionward = name
      node.textContent = text
      return node
    }
    const texts = { ...DEFAULT_TEXTS, ...locale.texts, ...options.texts }
    const [before = '', after = ''] = texts.message.split('{time}')
    const host = doc.createElement(HOST)
    const shadow = host.attachShadow({ mode: 'open' })
    adoptStyles(shadow, CSS, options.nonce)
    // Ids are scoped to the shadow root: no clash with the page or another dialog.
    const root = el('dialog', 'dialog', '', {
      role: 'alertdialog',
      'aria-modal': 'true',
      'aria-labelledby': 'title',
      'aria-describedby': 'message',
      // The language of its texts, for screen readers (WCAG 3.1.2), whatever the page's is.
      lang: locale.tag,
      dir: locale.dir ?? 'ltr',
    })
    const message = el('p', 'message', '', { id: 'message' })
    // The visible countdown changes every second; only `status` is a live region.
    const countdown = el('span', 'countdown')
    message.append(before, countdown, after)
    const status = el('p', 'status', '', { 'aria-live': 'polite', 'aria-atomic': 'true' })
    const bar = el('div', 'bar', '', { 'aria-hidden': 'true' })
    bar.append(el('div', 'fill'))
    // Buttons outside any form: no type needed, a click submits nothing.
    const stayButton = el('button', 'stay', texts.stay)
    stayButton.addEventListener('click', stay)
    const logoutButton = el('button', 'logout', texts.logout)
    logoutButton.addEventListener('click', () => options.onLogout())
    const actions = el('div', 'actions')
    actions.append(stayButton, logoutButton)
    root.append(el('h2', 'title', texts.title, { id: 'title' }), message, status, bar, actions)
    root.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') stay(event)
      // Focus stays in the dialog: Tab and Shift+Tab go from one button to the other, never
      // to the browser's toolbar or the page behind (the platform lets Tab leave a modal).
      if (event.key === 'Tab') {
        event.preventDefault()
        ;(shadow.activeElement === stayButton ? logoutButton : stayButton).focus()
      }
    })
    // Browsers may close a modal dialog themselves (a second Escape, a close request):
    // whatever closed it, the user answered, so that is a stay as well. But a close event is
    // queued, and the one hide() causes can arrive after the next show(), even at an element
    // rebuilt since: only a close that finds the dialog shown now closed answers, once per
    // opening.
    root.addEventListener('cancel', stay)
    root.addEventListener('close', (event) => {
      if (open && !parts?.root.open && answered !== opening) {
        answered = opening
        stay(event)
      }
    })
    shadow.append(root)
    doc.body.append(host)
    return { locale, before, after, host, shadow, root, countdown, status, stay: stayButton }
  }

  function hide(): void {
    if (!open || parts === null) return
    open = false
    parts.status.textContent = ''
    parts.root.close()
    // A no-op for an element the page has removed meanwhile. Not activity: focus never is.
    ;(returnFocus as HTMLElement | null)?.focus?.()
    returnFocus = null
  }

  return {
    show(left, total) {
      // Texts that arrived since it was last built: rebuilt before it opens, never while open.
      if (!open && parts !== null && parts.locale !== locale) {
        parts.host.remove()
        parts = null
      }
      parts ??= build()
      const { root, countdown, status, before, after, locale: shown } = parts
      countdown.textContent = formatTime(left, shown.tag)
      const ratio = total > 0 ? Math.min(1, Math.max(0, left / total)) : 0
      root.style.setProperty('--sessionward-progress', ratio.toFixed(4))
      // Opening is announced by the alertdialog itself (its description holds the time).
      const now = announcementOf(left)
      if (open && now !== announced) {
        status.textContent = before + spokenTime(left, shown.tag) + after
      }
      announced = now
      if (open) return
      open = true
      opening++
      returnFocus = doc.activeElement
      root.showModal()
      parts.stay.focus()
    },
    hide,
    isOpen: () => open,
    ready,
    destroy() {
      hide()
      parts?.host.remove()
      parts = null
    },
  }
}
