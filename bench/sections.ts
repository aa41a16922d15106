import { readFileSync, writeFileSync } from 'node:fs'

// BENCHMARKS.md sections that scripts other than `npm run bench` write (`npm run trace`,
// `npm run bench:million`, `npm run bench:peers`): `npm run bench` keeps them as they are.
const KEPT_TITLES = ['## Request trace', '## A million users', '## Peers:']

export const BENCHMARKS_FILE = new URL('../BENCHMARKS.md', import.meta.url)

/** The section of `text` that starts with `title` (up to the next `## `), or null. */
function sectionOf(text: string, title: string): string | null {
  const start = text.indexOf(`\n${title}`)
  if (start < 0) return null
  const end = text.indexOf('\n## ', start + 1)
  return text.slice(start + 1, end < 0 ? undefined : end + 1).trimEnd()
}

/**
 * The sections of BENCHMARKS.md that other scripts wrote, in file order.
 *
 * @example
 * const kept = keptSections(readFileSync(BENCHMARKS_FILE, 'utf8'))
 */
export function keptSections(text: string): string[] {
  return KEPT_TITLES.map((title) => sectionOf(text, title)).filter(
    (section): section is string => section !== null,
  )
}

/**
 * Writes `section` into BENCHMARKS.md in place of the one with its title (appended when absent).
 *
 * @example
 * replaceSection('## A million users\n\n…')
 */
export function replaceSection(section: string): void {
  const text = readFileSync(BENCHMARKS_FILE, 'utf8')
  const title = section.slice(0, section.indexOf('\n') < 0 ? undefined : section.indexOf('\n'))
  const heading = title.replace(/ \(.*$/, '')
  const old = sectionOf(text, heading)
  const next = old
    ? text.replace(old, section.trimEnd())
    : `${text.trimEnd()}\n\n${section.trimEnd()}\n`
  writeFileSync(BENCHMARKS_FILE, next)
}
