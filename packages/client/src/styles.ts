/**
 * Styles a shadow root without anything a strict Content-Security-Policy would block: a
 * constructable stylesheet where supported, otherwise a `<style>` carrying the page's nonce.
 * Either goes away with the shadow root, and neither reaches the page around it.
 * @example
 * adoptStyles(host.attachShadow({ mode: 'open' }), 'h2 { color: red }', null)
 */
export function adoptStyles(root: ShadowRoot, css: string, nonce?: string | null): void {
  const view = root.ownerDocument.defaultView
  if (
    view !== null &&
    'adoptedStyleSheets' in root &&
    'replaceSync' in view.CSSStyleSheet.prototype
  ) {
    const sheet = new view.CSSStyleSheet()
    sheet.replaceSync(css)
    root.adoptedStyleSheets = [sheet]
    return
  }
  const style = root.ownerDocument.createElement('style')
  if (nonce) style.nonce = nonce
  style.textContent = css
  root.append(style)
}
