import { defineConfig, type Plugin } from 'vite'

/**
 * The script-tag bundle targets es2022 browsers, which all have a native BroadcastChannel and
 * Web Locks (Safari 15.4+, the first Safari with es2022). broadcast-channel's IndexedDB and
 * localStorage fallbacks can never be chosen there, so they are left out (about 2 KB gzipped).
 * The npm build keeps them: a bundler there may target older browsers.
 */
function modernChannelsOnly(): Plugin {
  const stubs: Record<string, string> = {
    'indexed-db.js': 'IndexedDBMethod',
    'localstorage.js': 'LocalstorageMethod',
  }
  return {
    name: 'sessionward:modern-channels-only',
    enforce: 'pre',
    resolveId(source, importer) {
      const file = source.split('/').pop() ?? ''
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
      if (!id.startsWith('\0sessionward-stub:')) return null
      const file = id.slice('\0sessionward-stub:'.length)
      const type = file === 'indexed-db.js' ? 'idb' : 'localstorage'
      return `export const ${stubs[file]} = { type: '${type}', canBeUsed: () => false }`
    },
  }
}

// Two library builds of one source: `vite build` (ESM for bundlers, broadcast-channel left as a
// dependency) and `vite build --mode iife` (one file for a script tag, everything inside).
export default defineConfig(({ mode }) => {
  const iife = mode === 'iife'
  return {
    plugins: iife ? [modernChannelsOnly()] : [],
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
