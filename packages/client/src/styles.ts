/**
 * Adds a stylesheet to a document without anything a strict Content-Security-Policy would block:
 * a constructable stylesheet where supported, otherwise a `<style>` carrying the page's nonce.
 * Returns a function that removes it again.
 * @example
 * const remove = adoptStyles(document, '.x { color: red }', null)
 */
export function adoptStyles(doc: Document, css: string, nonce: string | null): () => void {
  const view = doc.defaultView
  if (
    view !== null &&
    'adoptedStyleSheets' in doc &&
    'replaceSync' in view.CSSStyleSheet.prototype
  ) {
    const sheet = new view.CSSStyleSheet()
    sheet.replaceSync(css)
    doc.adoptedStyleSheets = [...doc.adoptedStyleSheets, sheet]
    return () => {
      doc.adoptedStyleSheets = doc.adoptedStyleSheets.filter((s) => s !== sheet)
    }
  }
  const style = doc.createElement('style')
  if (nonce !== null) style.nonce = nonce
  style.textContent = css
  doc.head.append(style)
  return () => style.remove()
}
