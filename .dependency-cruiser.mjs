// `npm run lint` runs this after Biome: the packages' import graphs stay free of cycles, type
// imports included, so every module can be loaded (and reasoned about) from the bottom up.
export default {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'Imports point down the layers; a cycle breaks module loading order (TDZ errors).',
      from: {},
      to: { circular: true },
    },
    {
      name: 'hono-only-at-the-edge',
      severity: 'error',
      comment:
        'The rules, the cache, the store, the bus and the session lifecycle know no HTTP: answers are built at the edge (docs/decisions.md, Layers). options.ts names Context only in the types of the app’s callbacks.',
      from: {
        path: '^packages/server/src/',
        pathNot:
          '^packages/server/src/(errors|transport|middleware|routes|idp-routes|jwt|client-script|outside-hono|login-throttle|ward|index|options)\\.ts$|^packages/server/src/(admin|adapters)/',
      },
      to: { path: '(^|/)node_modules/hono/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '\\.test\\.ts$|/test-support/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
}
