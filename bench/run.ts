// `npm run bench`: every benchmark of the project, written to BENCHMARKS.md.
import { readFileSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { benchAdmin } from './admin.ts'
import { benchClient } from './client.ts'
import { benchCluster } from './cluster.ts'
import { benchLogin } from './login.ts'
import { benchServer } from './server.ts'

const sections = [
  await benchServer(),
  await benchCluster(),
  await benchLogin(),
  await benchClient(),
  await benchAdmin(),
]
const header = [
  '# Benchmarks',
  '',
  `Measured by \`npm run bench\` on ${new Date().toISOString().slice(0, 10)}: Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model.trim() ?? 'unknown CPU'}.`,
  'Ratios compare cases measured in the same run; absolute figures depend on the machine.',
]
const file = new URL('../BENCHMARKS.md', import.meta.url)
// `npm run trace` and `npm run bench:peers` write their own sections: kept as they are.
const previous = readFileSync(file, 'utf8')
const kept = [
  /^## Request trace[\s\S]*?(?=^## |(?![\s\S]))/m,
  /^## Peers:[\s\S]*?(?=^## |(?![\s\S]))/m,
]
  .map((section) => section.exec(previous)?.[0]?.trimEnd())
  .filter((section) => section !== undefined)
const text = `${[...header, '', ...[...sections, ...kept].flatMap((s) => [s, ''])].join('\n')}`
writeFileSync(file, text)
process.stdout.write(text)
