import { adoptStyles } from './styles.ts'

/** Every text of the default dialog; replace any of them with the `texts` option. */
export interface DialogTexts {
  title: string
  /** `{time}` marks where the countdown goes; without it the countdown follows the text. */
  message: string
  stay: string
  logout: string
}

export const DEFAULT_TEXTS: DialogTexts = {
  title: 'Are you still there?',
  message: 'For your security, you will be signed out in {time}.',
  stay: 'Stay signed in',
  logout: 'Sign out',
}

export interface Dialog {
  /** Opens the dialog if needed and shows the time left (ms) out of the warning period (ms). */
  show(remaining: number, total: number): void
  hide(): void
  /** True for events inside the open dialog: answering the warning is not page activity. */
  contains(target: EventTarget | null): boolean
  /** Removes the element and its stylesheet. */
  destroy(): void
}

export interface DialogOptions {
  texts: DialogTexts
  nonce: string | null
  onStay(): void
  onLogout(): void
}

/** Themable through the `--sessionward-*` custom properties; see the README. */
export const CSS = `
.sessionward{box-sizing:border-box;width:min(var(--sessionward-width,28rem),calc(100vw - 2rem));padding:1.5rem;border:0;border-radius:var(--sessionward-radius,12px);background:var(--sessionward-bg,#fff);color:var(--sessionward-fg,#1b1b1f);font:var(--sessionward-font,1rem/1.5 system-ui,sans-serif);box-shadow:var(--sessionward-shadow,0 12px 40px rgb(0 0 0/.25))}
.sessionward::backdrop{background:var(--sessionward-backdrop,rgb(0 0 0/.5))}
.sessionward__title{margin:0 0 .5rem;font-size:1.25em;line-height:1.3}
.sessionward__message{margin:0 0 1rem}
.sessionward__countdown{font-weight:700;font-variant-numeric:tabular-nums}
.sessionward__bar{height:.375rem;margin:0 0 1.25rem;border-radius:999px;overflow:hidden;background:var(--sessionward-track,#e3e3e8)}
.sessionward__fill{height:100%;background:var(--sessionward-accent,#0b57d0);transform-origin:left;transform:scaleX(var(--sessionward-progress,1));transition:transform 1s linear}
.sessionward__fill:dir(rtl){transform-origin:right}
.sessionward__actions{display:flex;flex-wrap:wrap;gap:.75rem;justify-content:flex-end}
.sessionward__actions button{font:inherit;padding:.5rem 1rem;border:1px solid var(--sessionward-accent,#0b57d0);border-radius:var(--sessionward-button-radius,8px);cursor:pointer}
.sessionward__stay{background:var(--sessionward-accent,#0b57d0);color:var(--sessionward-accent-fg,#fff)}
.sessionward__logout{background:transparent;color:var(--sessionward-accent,#0b57d0)}
.sessionward button:focus-visible{outline:3px solid var(--sessionward-focus,#0b57d0);outline-offset:2px}
@media (prefers-reduced-motion:reduce){.sessionward__fill{transition:none}}
`

/**
 * Formats a countdown as m:ss, rounding up so it never shows 0:00 while time is left.
 * @example
 * formatTime(65_000) // '1:05'
 */
export function formatTime(ms: number): string {
  const total = Math.ceil(Math.max(0, ms) / 1000)
  return `${Math.floor(total / 60)}:${String(total % 60).padStart(2, '0')}`
}

let count = 0

/**
 * The default warning: a modal `<dialog role="alertdialog">` (the platform keeps focus inside
 * and puts it in the top layer), Escape = stay, a polite live countdown and a progress bar.
 * Built with DOM calls and a constructable stylesheet, so it runs under a CSP without
 * 'unsafe-inline'. Nothing touches the document before the first `show`.
 * @example
 * const dialog = createDialog(document, { texts: DEFAULT_TEXTS, nonce: null, onStay, onLogout })
 * dialog.show(30_000, 60_000)
 */
export function createDialog(doc: Document, options: DialogOptions): Dialog {
  let parts: { root: HTMLDialogElement; countdown: HTMLElement; removeStyles(): void } | null = null
  let open = false
  let returnFocus: Element | null = null

  function stay(event: Event): void {
    event.preventDefault()
    options.onStay()
  }

  function build(): NonNullable<typeof parts> {
    const id = `sessionward-${++count}`
    const el = <K extends keyof HTMLElementTagNameMap>(
      tag: K,
      className: string,
      text = '',
    ): HTMLElementTagNameMap[K] => {
      const node = doc.createElement(tag)
      node.className = `sessionward__${className}`
      node.textContent = text
      return node
    }
    const root = doc.createElement('dialog')
    root.className = 'sessionward'
    root.dataset.sessionward = 'dialog'
    root.setAttribute('role', 'alertdialog')
    root.setAttribute('aria-modal', 'true')
    root.setAttribute('aria-labelledby', `${id}-title`)
    root.setAttribute('aria-describedby', `${id}-message`)
    const title = el('h2', 'title', options.texts.title)
    title.id = `${id}-title`
    const message = el('p', 'message')
    message.id = `${id}-message`
    const countdown = el('span', 'countdown')
    countdown.dataset.sessionward = 'countdown'
    countdown.setAttribute('aria-live', 'polite')
    countdown.setAttribute('aria-atomic', 'true')
    const [before = '', after = ''] = options.texts.message.split('{time}')
    message.append(before, countdown, after)
    const bar = el('div', 'bar')
    bar.setAttribute('aria-hidden', 'true')
    bar.append(el('div', 'fill'))
    const stayButton = el('button', 'stay', options.texts.stay)
    stayButton.type = 'button'
    stayButton.dataset.sessionward = 'stay'
    stayButton.autofocus = true
    stayButton.addEventListener('click', stay)
    const logoutButton = el('button', 'logout', options.texts.logout)
    logoutButton.type = 'button'
    logoutButton.dataset.sessionward = 'logout'
    logoutButton.addEventListener('click', () => options.onLogout())
    const actions = el('div', 'actions')
    actions.append(stayButton, logoutButton)
    root.append(title, message, bar, actions)
    root.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') stay(event)
    })
    // Browsers may close a modal dialog themselves (a second Escape, a close request):
    // whatever closed it, the user answered, so that is a stay as well.
    root.addEventListener('cancel', stay)
    root.addEventListener('close', (event) => {
      if (open) stay(event)
    })
    const removeStyles = adoptStyles(doc, CSS, options.nonce)
    doc.body.append(root)
    return { root, countdown, removeStyles }
  }

  function hide(): void {
    if (!open || parts === null) return
    open = false
    parts.root.close()
    if (returnFocus !== null && 'focus' in returnFocus && returnFocus.isConnected) {
      ;(returnFocus as HTMLElement).focus()
    }
    returnFocus = null
  }

  return {
    show(left, total) {
      parts ??= build()
      const { root, countdown } = parts
      countdown.textContent = formatTime(left)
      const ratio = total > 0 ? Math.min(1, Math.max(0, left / total)) : 0
      root.style.setProperty('--sessionward-progress', ratio.toFixed(4))
      if (open) return
      open = true
      returnFocus = doc.activeElement
      root.showModal()
      root.querySelector<HTMLElement>('[data-sessionward="stay"]')?.focus()
    },
    hide,
    contains(target) {
      if (!open || parts === null || target === null || !('nodeType' in target)) return false
      return parts.root.contains(target as Node)
    },
    destroy() {
      hide()
      if (parts === null) return
      parts.root.remove()
      parts.removeStyles()
      parts = null
    },
  }
}
