// `npm run build` runs this last: each locale as the JSON file the script-tag bundle fetches next
// to itself (`dist/sessionward.iife.locale.<tag>.json`, exported as
// `@sessionward/client/locales/<tag>.json`), from the same sources as `dist/locales/<tag>.js`.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { LOCALES } from '../src/locales/index.ts'

const dist = join(import.meta.dirname, '..', 'dist')
for (const tag of LOCALES) {
  const { default: locale } = await import(`../src/locales/${tag}.ts`)
  writeFileSync(join(dist, `sessionward.iife.locale.${tag}.json`), JSON.stringify(locale))
}
console.log(`@sessionward/client: ${LOCALES.length} locale files in dist`)
