import { boot, type SessionWardGlobal } from './script-tag.ts'

declare global {
  interface Window {
    SessionWard: SessionWardGlobal
  }
}

// currentScript is only set while this classic script runs, so it is read right away.
window.SessionWard = boot(document.currentScript)
