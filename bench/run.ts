// `npm run bench`: every benchmark of the project, written to BENCHMARKS.md.
// `npm run bench -- propagation` (or any names below): only those parts, each replacing its own
// section of BENCHMARKS.md, the others kept as they are.
import { readFileSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { benchAdmin } from './admin.ts'
import { benchClient } from './client.ts'
import { benchCluster } from './cluster.ts'
import { benchLogin } from './login.ts'
import { benchServer } from './server.ts'

const parts: Record<string, () => Promise<string>> = {
  server: benchServer,
  propagation: benchCluster,
  login: benchLogin,
  client: benchClient,
  admin: benchAdmin,
}
const chosen = process.argv.slice(2)
const unknown = chosen.filter((name) => !(name in parts))
if (unknown.length > 0) {
  throw new Error(
    `unknown bench part(s) ${unknown.join(', ')}; known: ${Object.keys(parts).join(', ')}`,
  )
}
const file = new URL('../BENCHMARKS.md', import.meta.url)
const previous = readFileSync(file, 'utf8')
/** The section of BENCHMARKS.md that starts with `title` (a `## ` line), up to the next one. */
const sectionOf = (title: string) =>
  new RegExp(
    `^${title.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\n[\\s\\S]*?(?=^## |(?![\\s\\S]))`,
    'm',
  )

let text: string
if (chosen.length > 0) {
  text = previous
  for (const name of chosen) {
    const section = await (parts[name] as () => Promise<string>)()
    const title = section.split('\n')[0] as string
    const found = sectionOf(title).exec(text)
    text = found
      ? `${text.slice(0, found.index)}${section}\n\n${text.slice(found.index + found[0].length)}`
      : `${text.trimEnd()}\n\n${section}\n`
    process.stdout.write(`${section}\n`)
  }
} else {
  const sections: string[] = []
  for (const run of Object.values(parts)) sections.push(await run())
  const header = [
    '# Benchmarks',
    '',
    `Measured by \`npm run bench\` on ${new Date().toISOString().slice(0, 10)}: Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model.trim() ?? 'unknown CPU'}.`,
    'Ratios compare cases measured in the same run; absolute figures depend on the machine.',
  ]
  // `npm run trace` writes its own section (before/after numbers of a refactor): kept as it is.
  const traceSection = sectionOf('## Request trace: what one request runs in the library').exec(
    previous,
  )?.[0]
  const kept = traceSection ? [traceSection.trimEnd()] : []
  text = `${[...header, '', ...[...sections, ...kept].flatMap((s) => [s, ''])].join('\n')}`
  process.stdout.write(text)
}
writeFileSync(file, text)
