import { fileURLToPath } from 'node:url'
import { minify } from 'terser'
import { defineConfig, type Plugin } from 'vite'
import { LOCALES } from './src/locales/index.ts'

/**
 * The script-tag bundle carries no locale texts: its loader fetches `<bundle>.locale.<tag>.json`
 * next to itself (src/locale-loader.iife.ts) instead of importing chunks.
 */
const iifeLocaleLoader = fileURLToPath(new URL('./src/locale-loader.iife.ts', import.meta.url))

/**
 * The script-tag bundle loads no package for tabs: its es2022 browsers all have a native
 * BroadcastChannel (`src/channel-package.iife.ts`). The npm build imports broadcast-channel
 * lazily, only where the browser's own channel or Web Locks is missing (`src/tabs.ts`).
 */
const iifeChannelPackage = fileURLToPath(new URL('./src/channel-package.iife.ts', import.meta.url))

/** The script-tag bundle holds the events channel's code: an IIFE has no chunks to load. */
const iifeEventsLoader = fileURLToPath(new URL('./src/events-loader.iife.ts', import.meta.url))

/** The script-tag bundle imports its rarely used parts from one file next to itself. */
const iifeExtrasLoader = fileURLToPath(new URL('./src/extras-loader.iife.ts', import.meta.url))

/**
 * The npm build's entries: the SDK, its headless part (which the SDK imports: one copy of the
 * ward in an app that uses both), and each locale as `dist/locales/<tag>.js` (its own chunk,
 * imported lazily by the SDK, and importable as `@sessionward/client/locales/<tag>`).
 */
const esmEntries = Object.fromEntries([
  ['sessionward', 'src/index.ts'],
  ['headless', 'src/headless.ts'],
  ['locales/index', 'src/locales/index.ts'],
  ...LOCALES.map((tag) => [`locales/${tag}`, `src/locales/${tag}.ts`]),
])

/**
 * The script-tag bundle has a 10 KB budget: terser run over the minifier's output saves about
 * 200 bytes gzipped more (10,331 → 10,117 bytes measured), more than terser alone as the
 * minifier (10,218). The npm build ships terser's output too (as modules: their own top-level
 * names shortened): an app's bundler minifies it again, and what the app pays is about 70
 * bytes less than from readable modules (the headless entry 7,192 → 7,118 measured); `src/`
 * ships beside it for reading and source maps. Property names that never leave the bundle
 * (INTERNAL, below) are shortened too, with one name cache per build so its chunks agree.
 */
function terserAfterMinify(module: boolean): Plugin {
  const nameCache = {}
  return {
    name: 'sessionward:terser-after-minify',
    apply: 'build',
    enforce: 'post',
    async generateBundle(_options, bundle) {
      for (const chunk of Object.values(bundle)) {
        if (chunk.type !== 'chunk') continue
        // terser drops a directive it does not know: the React adapter's 'use client' (below).
        const directive = /^(['"])use client\1;?/.exec(chunk.code)?.[0]
        const format = directive ? { preamble: "'use client';" } : {}
        const first = await minify(chunk.code, {
          // unsafe_methods: `{ f: (x) => … }` as `{ f(x) { … } }` (12 bytes gzipped less on the
          // headless entry, 5 on the script tag). Unsafe only for a function called with `new`:
          // none is (the only one, broadcast-channel's, is a class). The npm build keeps
          // functions used once as declarations (reduce_funcs off): the app's bundler minifies
          // them again, and the headless entry is 18 bytes gzipped less for it (the full entry
          // 10); the script tag, minified here only, would be 5 more.
          compress: {
            passes: 3,
            hoist_funs: true,
            unsafe_methods: true,
            ...(module ? { reduce_funcs: false } : {}),
          },
          ecma: 2020,
          module,
          mangle: { properties: { regex: INTERNAL, builtins: true } },
          nameCache,
          format,
        })
        // Once more over its own output, the first having hoisted function declarations: about
        // 95 bytes gzipped less on the script tag (10,252 → 10,157 measured), 30 on the others.
        const { code } = await minify(first.code ?? chunk.code, {
          compress: { passes: 3 },
          ecma: 2020,
          module,
          format,
        })
        if (code) chunk.code = code
      }
    },
  }
}

/**
 * Property names only this package's code reads or writes: the machine's tab-local fields and
 * effects, the run's parts, the tab channel's election and its `leave`, the dialog's and the
 * events channel's internal options. Never here: the network's methods (named for the effects
 * they perform, which the ward hands them by type), wire names (tab messages and their `shared`
 * state, the server's JSON), options and the public API, broadcast-channel's API, the event
 * fields the `debug` line logs, and any name a DOM or package object is read by (`builtins`
 * lets this list shorten names the DOM also uses).
 */
const INTERNAL =
  /^(logoutFailures|extendAt|inFlight|channel|channelFailures|channelRetryAt|wokeAt|leaderHidden|veiled|unconfirmed|effects|tellAt|retryAt|own|leave|unwatch|network|tabs|countdown|draw|elected|isOpen|onStay|onLogout|onLeader|onMessage|kind|post|hide|destroy|shadow|onPolicy|onEnded|onLost|onNewDevice|elect)$/

/**
 * What the ESM build leaves to the app's bundler. The adapters import the core by the package's
 * own name, so `react.js` and `vue.js` load `sessionward.js` rather than a copy of it, and the
 * core does not grow (nor split into chunks) for apps that import neither.
 */
const ESM_EXTERNAL = ['broadcast-channel', '@sessionward/client', 'react', 'vue']

// Two library builds of one source: `vite build` (ESM for bundlers: the core and the React and
// Vue adapters, broadcast-channel left as a dependency, imported lazily) and `vite build --mode iife` (one file
// for a script tag, everything inside).
export default defineConfig(({ mode }) => {
  const iife = mode === 'iife'
  // `--mode extras`: the script-tag bundle's extras (new-device notice, screen lock), one ES
  // module with no chunks, fetched next to the bundle (src/extras-loader.iife.ts).
  if (mode === 'extras') {
    return {
      plugins: [terserAfterMinify()],
      build: {
        target: 'es2022',
        emptyOutDir: false,
        lib: {
          entry: 'src/extras.ts',
          formats: ['es'],
          fileName: () => 'sessionward.iife.extras.js',
        },
        rolldownOptions: { output: { codeSplitting: false } },
      },
    }
  }
  return {
    plugins: [terserAfterMinify(!iife)],
    resolve: iife
      ? {
          alias: [
            { find: /^\.\/locale-loader\.ts$/, replacement: iifeLocaleLoader },
            { find: /^\.\/channel-package\.ts$/, replacement: iifeChannelPackage },
            { find: /^\.\/events-loader\.ts$/, replacement: iifeEventsLoader },
            { find: /^\.\/extras-loader\.ts$/, replacement: iifeExtrasLoader },
          ],
        }
      : {},
    build: {
      target: 'es2022',
      emptyOutDir: false,
      reportCompressedSize: true,
      lib: iife
        ? {
            entry: 'src/iife.ts',
            formats: ['iife'],
            name: 'SessionWardBundle',
            fileName: () => 'sessionward.iife.js',
          }
        : {
            entry: { ...esmEntries, react: 'src/react.ts', vue: 'src/vue.ts' },
            formats: ['es'],
            fileName: (_format, name) => `${name}.js`,
          },
      rolldownOptions: iife
        ? {}
        : {
            external: ESM_EXTERNAL,
            output: {
              chunkFileNames: '[name].js',
              // The provider and hook hold state: frameworks with server components (Next.js'
              // App Router) may render them only as client components, which this marks.
              banner: (chunk) => (chunk.name === 'react' ? "'use client';" : ''),
            },
          },
    },
  }
})
