// `node bench/size-breakdown.ts [entry]`: where an npm entry's gzipped bytes come from, module by
// module (issue 25, item 2). The entry (default `packages/client/src/headless.ts`) is bundled
// from source by rolldown with what it imports up front (the lazily imported chunks external,
// as `npm run size` leaves them out), minified by terser without the passes that move code
// between modules (inlining, joining statements), so each module's code stays between its own
// markers, and gzipped (level 9). For each module: what the bundle loses when its code is left
// out ("leave-out", the figure that adds up), its code gzipped alone, and its minified bytes.
// The whole is some 5% more than `npm run size` (which also shortens internal property names
// and compresses across modules): read the shares, not the sum.
import { gzipSync } from 'node:zlib'
import { rolldown } from 'rolldown'
import { minify } from 'terser'

const entry = process.argv[2] ?? 'packages/client/src/headless.ts'
/** What the client imports lazily: chunks no page waits for (docs/client.md, Size). */
const LAZY = [
  /broadcast-channel/,
  /\/events\.ts$/,
  /\/extras\.ts$/,
  /\/locales\/(?!index)[^/]*\.ts$/,
]

const gzipped = (code: string): number => gzipSync(code, { level: 9 }).length

const bundle = await rolldown({ input: entry, external: LAZY })
const { output } = await bundle.generate({ format: 'es' })
// rolldown opens each module's code with a `// <path>` line; a comment terser keeps marks it.
const marked = (output[0]?.code ?? '').replace(/^\/\/ (\S+\.ts)$/gm, '/*@module $1*/')
const { code = '' } = await minify(marked, {
  module: true,
  compress: {
    sequences: false,
    join_vars: false,
    inline: false,
    reduce_vars: false,
    collapse_vars: false,
    hoist_funs: false,
    hoist_props: false,
    if_return: false,
  },
  format: { comments: /@module/ },
})
const whole = gzipped(code)
const pieces = code.split(/\/\*@module (?:packages\/client\/src\/)?(\S+?)\.ts\*\//)
const modules = new Map<string, string>()
for (let i = 1; i < pieces.length; i += 2) {
  const name = pieces[i] as string
  modules.set(name, (modules.get(name) ?? '') + (pieces[i + 1] ?? ''))
}
const rows = [...modules]
  .map(([name, text]) => ({
    name,
    leaveOut: whole - gzipped(code.replace(text, '')),
    alone: gzipped(text),
    minified: text.length,
  }))
  .sort((a, b) => b.leaveOut - a.leaveOut)

console.log(`${entry}: ${code.length} bytes minified, ${whole} gzipped`)
console.log('leave-out  alone  minified  module')
for (const row of rows) {
  const cells = [row.leaveOut, row.alone, row.minified].map((n, i) => String(n).padStart(i ? 7 : 9))
  console.log(`${cells.join('')}  ${row.name}`)
}
