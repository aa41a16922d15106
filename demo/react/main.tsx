/** @jsxImportSource react */
// The demo's React page (`/react`): the hook of @sessionward/client/react, bundled by the demo
// server on first use (demo/react/bundle.ts). The server puts the user's policy on #root.
import { SessionWardProvider, useSessionWard } from '@sessionward/client/react'
import { createRoot } from 'react-dom/client'

function clock(seconds: number): string {
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')}`
}

/** The state, the countdown while warning, and the three actions a person has. */
function SessionPanel() {
  const { state, remaining, paused, extend, logout, pause, resume } = useSessionWard()
  return (
    <section className="card" aria-labelledby="react-state-title">
      <h2 id="react-state-title">Session state (from the hook)</h2>
      <p className="big">
        <output data-testid="react-state" data-state={state} className="state">
          {state}
        </output>
      </p>
      <p className="muted" aria-live="off">
        {state === 'warning' ? (
          <>
            Signed out in <span data-testid="react-remaining">{remaining}</span> s (
            {clock(remaining)}) unless you stay.
          </>
        ) : (
          'No warning.'
        )}
      </p>
      <p className="muted" data-testid="react-paused" data-paused={String(paused)}>
        {paused ? 'Paused: this tab keeps the session alive.' : 'Not paused.'}
      </p>
      <p className="actions">
        <button type="button" data-testid="react-stay" onClick={extend}>
          Stay signed in
        </button>
        <button
          type="button"
          className="secondary"
          data-testid="react-pause"
          aria-pressed={paused}
          onClick={paused ? resume : pause}
        >
          {paused ? 'Resume' : 'Pause'}
        </button>
        <button type="button" className="secondary" data-testid="react-sign-out" onClick={logout}>
          Sign out
        </button>
      </p>
    </section>
  )
}

const root = document.getElementById('root') as HTMLElement
createRoot(root).render(
  <SessionWardProvider
    options={{
      pingUrl: '/session/ping',
      logoutUrl: '/session/logout',
      redirectTo: '/login?reason=idle',
      // Headless: the component is the whole interface.
      dialog: false,
      warnAfter: Number(root.dataset.warnAfter),
      expireAfter: Number(root.dataset.expireAfter),
    }}
  >
    <SessionPanel />
  </SessionWardProvider>,
)
