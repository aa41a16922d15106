// `npm run bench`: every benchmark of the project, written to BENCHMARKS.md.
import { readFileSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { benchAdmin } from './admin.ts'
import { benchCacheMemory } from './cache-memory.ts'
import { benchClient } from './client.ts'
import { benchCluster } from './cluster.ts'
import { benchLogin } from './login.ts'
import { BENCHMARKS_FILE, keptSections } from './sections.ts'
import { benchServer } from './server.ts'

const sections = [
  await benchServer(),
  await benchCluster(),
  await benchLogin(),
  await benchClient(),
  await benchAdmin(),
  benchCacheMemory(),
]
const header = [
  '# Benchmarks',
  '',
  `Measured by \`npm run bench\` on ${new Date().toISOString().slice(0, 10)}: Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model.trim() ?? 'unknown CPU'}.`,
  'Ratios compare cases measured in the same run; absolute figures depend on the machine.',
]
const file = BENCHMARKS_FILE
// `npm run trace`, `npm run bench:million` and `npm run bench:peers` write their own sections: kept as they are.
const kept = keptSections(readFileSync(file, 'utf8'))
const text = `${[...header, '', ...[...sections, ...kept].flatMap((s) => [s, ''])].join('\n')}`
writeFileSync(file, text)
process.stdout.write(text)
