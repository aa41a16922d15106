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
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '\\.test\\.ts$|/test-support/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
}
