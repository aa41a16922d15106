// `npm start` calls this: rebuild only when the script-tag bundle is missing or older than a source.
import { execFileSync } from 'node:child_process'
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'

const root = join(import.meta.dirname, '..')
const bundle = join(root, 'dist', 'sessionward.iife.js')
const newest = (dir: string): number =>
  Math.max(
    0,
    ...readdirSync(dir, { withFileTypes: true }).map((entry) => {
      const path = join(dir, entry.name)
      return entry.isDirectory() ? newest(path) : statSync(path).mtimeMs
    }),
  )
let built = 0
try {
  built = statSync(bundle).mtimeMs
} catch {
  // Missing: build.
}
const sources = Math.max(newest(join(root, 'src')), statSync(join(root, 'vite.config.ts')).mtimeMs)
if (built < sources) {
  execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' })
} else {
  console.log('@sessionward/client: dist is up to date')
}
