import { expect, test } from 'vitest'
import { loadExtras } from './extras-loader.iife.ts'

// A script-tag bundle with no URL of its own (inlined, or bundled into a module: no
// `currentScript` when it ran) has no extras beside it: asking for them is a rejected promise,
// which the ward's callers handle, never an exception thrown where it asks (a new-device event
// would otherwise drop the events channel, and start() with endOnScreenLock would throw).
test('with no bundle URL, loadExtras() rejects instead of throwing', async () => {
  expect(document.currentScript).toBeNull()
  let loading: Promise<unknown> | undefined
  expect(() => {
    loading = loadExtras()
  }).not.toThrow()
  await expect(loading).rejects.toThrow()
})
