// `npm run bench`: every benchmark of the project, written to BENCHMARKS.md.
// `npm run bench -- propagation` (or any names below): only those parts, each replacing its own
// section of BENCHMARKS.md, the others kept as they are.
import { readFileSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { benchAdmin } from './admin.ts'
import { benchCacheMemory } from './cache-memory.ts'
import { benchClient } from './client.ts'
import { benchCluster } from './cluster.ts'
import { benchLogin } from './login.ts'
import { BENCHMARKS_FILE, keptSections, replaceSection } from './sections.ts'
import { benchServer } from './server.ts'
import { benchSweep } from './sweep.ts'

const parts: Record<string, () => Promise<string>> = {
  server: benchServer,
  propagation: benchCluster,
  login: benchLogin,
  sweep: benchSweep,
  client: benchClient,
  admin: benchAdmin,
  memory: async () => benchCacheMemory(),
}
const chosen = process.argv.slice(2)
const unknown = chosen.filter((name) => !(name in parts))
if (unknown.length > 0) {
  throw new Error(
    `unknown bench part(s) ${unknown.join(', ')}; known: ${Object.keys(parts).join(', ')}`,
  )
}
if (chosen.length > 0) {
  for (const name of chosen) {
    const section = await (parts[name] as () => Promise<string>)()
    replaceSection(section)
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
  // `npm run trace`, `npm run bench:million` and `npm run bench:peers` write their own sections:
  // kept as they are.
  const kept = keptSections(readFileSync(BENCHMARKS_FILE, 'utf8'))
  const text = `${[...header, '', ...[...sections, ...kept].flatMap((s) => [s, ''])].join('\n')}`
  writeFileSync(BENCHMARKS_FILE, text)
  process.stdout.write(text)
}
