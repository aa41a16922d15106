import { boot, type SessionWardGlobal } from './script-tag.ts'

declare global {
  interface Window {
    SessionWard: SessionWardGlobal
  }
}

// currentScript is only set while this classic script runs, so it is read right away. The
// global is set first: a bad data- attribute throws, and the factory is still there.
boot(document.currentScript, (global) => {
  window.SessionWard = global
})
