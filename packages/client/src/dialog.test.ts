import { afterEach, describe, expect, test } from 'vitest'
import { CSS, createDialog, DEFAULT_TEXTS, formatTime } from './dialog.ts'
import { adoptStyles } from './styles.ts'

const hook = (name: string): HTMLElement | null =>
  document.querySelector<HTMLElement>(`[data-sessionward="${name}"]`)

afterEach(() => document.body.replaceChildren())

describe('dialog', () => {
  test.each([
    [0, '0:00'],
    [-5, '0:00'],
    [1, '0:01'],
    [999, '0:01'],
    [10_000, '0:10'],
    [65_000, '1:05'],
    [3_600_000, '60:00'],
  ])('%i ms shows as %s', (ms, text) => {
    expect(formatTime(ms)).toBe(text)
  })

  test('nothing is in the document before the first warning, nothing after destroy', () => {
    const sheets = document.adoptedStyleSheets.length
    const dialog = createDialog(document, {
      texts: DEFAULT_TEXTS,
      nonce: null,
      onStay() {},
      onLogout() {},
    })
    expect(hook('dialog')).toBeNull()
    dialog.show(5000, 10_000)
    expect(hook('dialog')).not.toBeNull()
    expect(document.adoptedStyleSheets.length).toBe(sheets + 1)
    dialog.destroy()
    expect(hook('dialog')).toBeNull()
    expect(document.adoptedStyleSheets.length).toBe(sheets)
  })

  test('CSP-safe: a constructable stylesheet, no <style> element, no markup parsing', () => {
    const dialog = createDialog(document, {
      texts: { ...DEFAULT_TEXTS, title: '<img src=x onerror=alert(1)>' },
      nonce: null,
      onStay() {},
      onLogout() {},
    })
    dialog.show(5000, 10_000)
    expect(document.querySelectorAll('style, img').length).toBe(0)
    expect(document.querySelector('h2')?.textContent).toBe('<img src=x onerror=alert(1)>')
    dialog.destroy()
  })

  test('the stylesheet honours reduced motion and exposes the theme variables', () => {
    expect(CSS).toContain(
      '@media (prefers-reduced-motion:reduce){.sessionward__fill{transition:none}}',
    )
    for (const name of ['bg', 'fg', 'accent', 'accent-fg', 'radius', 'font', 'backdrop', 'track']) {
      expect(CSS).toContain(`var(--sessionward-${name},`)
    }
  })

  test('without constructable stylesheets, a <style> with the nonce', () => {
    // A document without a window has no CSSStyleSheet constructor to use.
    const doc = document.implementation.createHTMLDocument('')
    const remove = adoptStyles(doc, '.a{color:red}', 'r4nd0m')
    const style = doc.querySelector('style')
    expect(style?.nonce).toBe('r4nd0m')
    expect(style?.textContent).toBe('.a{color:red}')
    remove()
    expect(doc.querySelector('style')).toBeNull()
  })

  test('clicks on its buttons and events inside it', () => {
    const calls: string[] = []
    const dialog = createDialog(document, {
      texts: DEFAULT_TEXTS,
      nonce: null,
      onStay: () => calls.push('stay'),
      onLogout: () => calls.push('logout'),
    })
    expect(dialog.contains(document.body)).toBe(false)
    dialog.show(5000, 10_000)
    hook('stay')?.click()
    hook('logout')?.click()
    expect(calls).toEqual(['stay', 'logout'])
    expect(dialog.contains(hook('countdown'))).toBe(true)
    expect(dialog.contains(document.body)).toBe(false)
    expect(dialog.contains(window)).toBe(false)
    dialog.hide()
    expect(dialog.contains(hook('countdown'))).toBe(false)
    dialog.destroy()
  })
})
