// The dashboard's server view: the last activity the server knows (a passive poll every 5 s,
// which does not keep the session alive) and two buttons to call the demo's API.
;(() => {
  const lastActivity = document.querySelector('[data-testid="last-activity"]')
  const lastActivityAgo = document.querySelector('[data-testid="last-activity-ago"]')
  const result = document.querySelector('[data-testid="api-result"]')
  let at = lastActivity ? new Date(lastActivity.getAttribute('datetime')) : null

  function render() {
    if (!lastActivity || !at || Number.isNaN(at.getTime())) return
    const ago = Math.max(0, Math.round((Date.now() - at.getTime()) / 1000))
    lastActivity.setAttribute('datetime', at.toISOString())
    lastActivity.textContent = at.toLocaleTimeString()
    if (lastActivityAgo) lastActivityAgo.textContent = `${ago} s ago.`
  }

  async function call(path) {
    const response = await fetch(path, { credentials: 'same-origin', cache: 'no-store' })
    const body = await response.json().catch(() => ({}))
    if (!response.ok) return { ok: false, status: response.status, body }
    const next = body.lastActivityAt ?? body.session?.lastActivityAt
    if (next) at = new Date(next)
    render()
    return { ok: true, status: response.status, body }
  }

  const say = (text) => {
    if (result) result.textContent = text
  }

  document.querySelector('[data-action="call-me"]')?.addEventListener('click', async () => {
    const answer = await call('/api/me')
    say(
      answer.ok
        ? `GET /api/me → 200: signed in as ${answer.body.user?.name}; the server counted it as activity.`
        : `GET /api/me → ${answer.status} ${answer.body.error ?? ''}`,
    )
  })
  document.querySelector('[data-action="poll"]')?.addEventListener('click', async () => {
    const answer = await call('/api/poll')
    say(
      answer.ok
        ? `GET /api/poll → 200: idle for ${Math.round(answer.body.idleFor)} s on the server (a poll is passive).`
        : `GET /api/poll → ${answer.status} ${answer.body.error ?? ''}`,
    )
  })

  setInterval(() => {
    if (window.SessionWard?.ward?.getState() === 'expired') return
    call('/api/poll').catch(() => {})
  }, 5000)
  setInterval(render, 1000)
  render()
})()
