// The React page's script: demo/react/main.tsx bundled with React by Vite (a root
// devDependency), in memory, the first time the page is asked for, then kept for the process.
// See docs/decisions.md ("The demo's React page is bundled on first use").
import { join } from 'node:path'

/** The page's script, or why it could not be built (the rest of the demo works either way). */
export type ReactBundle = { code: string } | { error: string }

/** The page's entry point. */
export const REACT_ENTRY = join(import.meta.dirname, 'main.tsx')

/**
 * Bundles `entry` (React, react-dom and the adapter from the client's sources) into one classic
 * script, minified, for production React. Never throws: a failure is the answer's `error`.
 * @example
 * const bundle = await buildReactPage()
 * if ('error' in bundle) console.warn(bundle.error)
 */
export async function buildReactPage(entry = REACT_ENTRY): Promise<ReactBundle> {
  try {
    const { build, defaultClientConditions } = await import('vite')
    const result = await build({
      configFile: false,
      root: join(import.meta.dirname),
      logLevel: 'silent',
      mode: 'production',
      // The client's sources, as `npm start` runs the demo: no build of the package needed.
      resolve: { conditions: ['source', ...defaultClientConditions] },
      build: {
        write: false,
        target: 'es2022',
        modulePreload: false,
        rolldownOptions: { input: entry, output: { format: 'iife' } },
      },
    })
    const outputs = (Array.isArray(result) ? result : [result]).flatMap((r) =>
      'output' in r ? r.output : [],
    )
    const chunk = outputs.find((output) => output.type === 'chunk' && output.isEntry)
    if (chunk?.type !== 'chunk') return { error: 'the build gave no script' }
    return { code: chunk.code }
  } catch (error) {
    return { error: error instanceof Error ? error.message : String(error) }
  }
}

let bundle: Promise<ReactBundle> | null = null

/** The page's script, built once per process on first use (about a second). */
export function reactBundle(): Promise<ReactBundle> {
  bundle ??= buildReactPage()
  return bundle
}
