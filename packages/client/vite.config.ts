import { dirname } from 'node:path'
import { minify } from 'terser'
import { defineConfig, type Plugin } from 'vite'

/**
 * The script-tag bundle targets es2022 browsers, which all have a native BroadcastChannel and
 * Web Locks (Safari 15.4+, the first Safari with es2022). broadcast-channel's IndexedDB and
 * localStorage fallbacks can never be chosen there, so they are left out (about 2 KB gzipped).
 * The npm build keeps them: a bundler there may target older browsers.
 */
const ELECTION = '\0sessionward-stub:leader-election.js'

/**
 * broadcast-channel's createLeaderElection with only its Web Locks elector: every es2022
 * browser but Firefox 93–95 has Web Locks, and the message-based fallback elector is about
 * 0.8 KB gzipped. Without Web Locks it throws, and the ward's tabs each ping for themselves.
 */
const webLockElection = (
  dir: string,
): string => `import { LeaderElectionWebLock } from ${JSON.stringify(`${dir}/leader-election-web-lock.js`)}
export function createLeaderElection(channel) {
  if (!globalThis.navigator?.locks) throw new Error('no Web Locks')
  const elector = new LeaderElectionWebLock(channel, {})
  channel._befC.push(() => elector.die())
  channel._leaderElector = elector
  return elector
}`

/**
 * The `unload` package only makes the Web Locks leader send a death message on page unload;
 * the browser releases the lock itself, and an `unload` listener keeps pages out of the
 * back/forward cache. About 0.3 KB gzipped.
 */
const UNLOAD = '\0sessionward-stub:unload'

function modernChannelsOnly(): Plugin {
  const stubs: Record<string, string> = {
    'indexed-db.js': 'IndexedDBMethod',
    'localstorage.js': 'LocalstorageMethod',
  }
  let electionDir = ''
  return {
    name: 'sessionward:modern-channels-only',
    enforce: 'pre',
    resolveId(source, importer) {
      const file = source.split('/').pop() ?? ''
      if (source === 'unload' && importer?.includes('broadcast-channel')) return UNLOAD
      if (importer?.includes('broadcast-channel') && source === './leader-election.js') {
        electionDir = dirname(importer)
        return ELECTION
      }
      if (
        importer?.includes('broadcast-channel') &&
        source.startsWith('./methods/') &&
        file in stubs
      ) {
        return `\0sessionward-stub:${file}`
      }
      return null
    },
    load(id) {
      if (id === ELECTION) return webLockElection(electionDir)
      if (id === UNLOAD) return 'export const add = () => ({ remove() {}, run() {} })'
      if (!id.startsWith('\0sessionward-stub:')) return null
      const file = id.slice('\0sessionward-stub:'.length)
      const type = file === 'indexed-db.js' ? 'idb' : 'localstorage'
      return `export const ${stubs[file]} = { type: '${type}', canBeUsed: () => false }`
    },
  }
}

/**
 * The script-tag bundle has a 10 KB budget: terser run over the minifier's output (two passes)
 * saves about 200 bytes gzipped more (10,331 → 10,117 bytes measured), more than terser alone
 * as the minifier (10,218).
 */
function terserAfterMinify(): Plugin {
  return {
    name: 'sessionward:terser-after-minify',
    apply: 'build',
    enforce: 'post',
    async generateBundle(_options, bundle) {
      for (const chunk of Object.values(bundle)) {
        if (chunk.type !== 'chunk') continue
        const { code } = await minify(chunk.code, { compress: { passes: 2 }, ecma: 2020 })
        if (code) chunk.code = code
      }
    },
  }
}

// Two library builds of one source: `vite build` (ESM for bundlers, broadcast-channel left as a
// dependency) and `vite build --mode iife` (one file for a script tag, everything inside).
export default defineConfig(({ mode }) => {
  const iife = mode === 'iife'
  return {
    plugins: iife ? [modernChannelsOnly(), terserAfterMinify()] : [],
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
        : { entry: 'src/index.ts', formats: ['es'], fileName: () => 'sessionward.js' },
      rolldownOptions: { external: iife ? [] : ['broadcast-channel'] },
    },
  }
})
