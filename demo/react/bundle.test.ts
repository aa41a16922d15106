// The React page's bundle (docs/decisions.md, "The demo's React page is bundled on first use"):
// built from the client's sources, and a failed build is an answer, never a crash of the demo.
import { describe, expect, test } from 'vitest'
import { reactPage } from '../pages.ts'
import { buildReactPage } from './bundle.ts'

const user = { id: 'alice', name: 'Alice', role: 'user' as const }
const policy = {
  warnAfter: 20,
  expireAfter: 30,
  maxAge: 3600,
  maxSessions: 3,
  onLimit: 'deny' as const,
}

describe('the React page', () => {
  test('bundles the page with production React and the adapter into one classic script', async () => {
    const bundle = await buildReactPage()
    if ('error' in bundle) throw new Error(bundle.error)
    // The adapter listens for the ward's state events; React's development build is left out.
    expect(bundle.code).toContain('sessionward:state')
    expect(bundle.code).not.toContain('react-dom.development')
    expect(bundle.code).not.toMatch(/^\s*(import|export)\b/m)
  })

  test('a build that fails says why, and the page shows it instead of a script', async () => {
    const bundle = await buildReactPage('/nonexistent/main.tsx')
    expect(bundle).toEqual({ error: expect.stringContaining('nonexistent') })
    const page = String(await reactPage({ user, policy, unavailable: 'the build failed' }))
    expect(page).toContain('data-testid="react-unavailable"')
    expect(page).toContain('the build failed')
    expect(page).not.toContain('react-page.js')
  })
})
