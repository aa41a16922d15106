// The devices page, from the ward's JSON routes: GET /session/sessions (live sessions, newest
// sign-in first, the current one marked; paged: "Show more" follows nextCursor), GET
// /session/history (ended ones and why), DELETE to revoke.
;(() => {
  const live = document.querySelector('[data-testid="sessions"] tbody')
  const history = document.querySelector('[data-testid="history"] tbody')
  const status = document.querySelector('[data-testid="devices-status"]')

  const REASONS = {
    logout: 'signed out',
    idle: 'inactive',
    absolute: 'too old',
    revoked: 'revoked',
    evicted: 'too many devices',
    user_agent_changed: 'browser changed',
    admin: 'by an administrator',
    refresh_reuse: 'token reused',
    reported: 'reported as not mine',
  }

  function el(tag, text, attributes = {}) {
    const node = document.createElement(tag)
    if (text !== undefined) node.textContent = text
    for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value)
    return node
  }

  function when(iso) {
    const date = new Date(iso)
    const seconds = Math.max(0, Math.round((Date.now() - date.getTime()) / 1000))
    const ago =
      seconds < 60
        ? `${seconds} s ago`
        : seconds < 3600
          ? `${Math.round(seconds / 60)} min ago`
          : `${Math.round(seconds / 3600)} h ago`
    return el('time', ago, { datetime: date.toISOString(), title: date.toLocaleString() })
  }

  function device(session) {
    const cell = el('td')
    const { browser, os, device: type } = session.userAgent
    const name = el('span', `${browser ?? 'Unknown browser'} on ${os ?? 'an unknown system'}`, {
      class: 'device',
      title: session.userAgent.raw,
    })
    cell.append(name, el('span', type, { class: 'muted small' }))
    if (session.current)
      cell.append(el('span', 'This device', { class: 'badge', 'data-testid': 'this-device' }))
    return cell
  }

  function row(session, columns) {
    const tr = el('tr', undefined, { 'data-session-id': session.id })
    if (session.current) tr.dataset.current = 'true'
    const created = el('td')
    created.append(when(session.createdAt))
    tr.append(device(session), el('td', session.ip ?? '—'), created)
    for (const column of columns) tr.append(column)
    return tr
  }

  function empty(body, text) {
    const tr = el('tr')
    tr.append(el('td', text, { colspan: '5', class: 'muted' }))
    body.replaceChildren(tr)
  }

  async function request(method, url) {
    const response = await fetch(url, { method, credentials: 'same-origin', cache: 'no-store' })
    const body = response.status === 204 ? null : await response.json().catch(() => null)
    return { response, body }
  }

  const say = (text) => {
    if (status) status.textContent = text
  }

  async function revoke(session) {
    const { response, body } = await request(
      'DELETE',
      `/session/sessions/${encodeURIComponent(session.id)}`,
    )
    if (response.status === 204) say(`Signed out ${session.userAgent.browser ?? 'that device'}.`)
    else say(body?.message ?? `Could not sign that device out (${response.status}).`)
    await load()
  }

  function liveRow(session) {
    const last = el('td')
    last.append(when(session.lastActivityAt))
    const actions = el('td', undefined, { class: 'actions' })
    if (session.current) {
      actions.append(el('span', 'current', { class: 'muted small' }))
    } else {
      const button = el('button', 'Revoke', {
        type: 'button',
        class: 'secondary',
        'data-action': 'revoke',
      })
      button.setAttribute(
        'aria-label',
        `Revoke ${session.userAgent.browser ?? 'device'} on ${session.userAgent.os ?? 'unknown system'}`,
      )
      button.addEventListener('click', () => revoke(session))
      actions.append(button)
    }
    return row(session, [last, actions])
  }

  // The list comes a page at a time; a last row offers the next page while there is one.
  function moreRow(nextCursor) {
    const tr = el('tr', undefined, { 'data-testid': 'more-sessions' })
    const cell = el('td', undefined, { colspan: '5' })
    const button = el('button', 'Show more devices', { type: 'button', class: 'secondary' })
    button.addEventListener('click', async () => {
      const page = await request(
        'GET',
        `/session/sessions?cursor=${encodeURIComponent(nextCursor)}`,
      )
      if (!page.response.ok) {
        say(page.body?.message ?? 'Could not load more devices.')
        return
      }
      tr.replaceWith(...page.body.sessions.map(liveRow), ...more(page.body.nextCursor))
    })
    cell.append(button)
    tr.append(cell)
    return tr
  }

  const more = (nextCursor) => (nextCursor ? [moreRow(nextCursor)] : [])

  async function load() {
    const [sessions, ended] = await Promise.all([
      request('GET', '/session/sessions'),
      request('GET', '/session/history?limit=10'),
    ])
    if (!sessions.response.ok || !ended.response.ok) {
      say('Your session has ended.')
      return
    }
    live.replaceChildren(...sessions.body.sessions.map(liveRow), ...more(sessions.body.nextCursor))
    if (ended.body.sessions.length === 0) empty(history, 'Nothing yet.')
    else
      history.replaceChildren(
        ...ended.body.sessions.map((session) => {
          const at = el('td')
          at.append(when(session.endedAt))
          return row(session, [
            at,
            el('td', REASONS[session.endReason] ?? session.endReason, {
              'data-reason': session.endReason,
            }),
          ])
        }),
      )
    document.body.dataset.devicesLoaded = 'true'
  }

  document.querySelector('[data-action="revoke-others"]')?.addEventListener('click', async () => {
    const { response, body } = await request('DELETE', '/session/sessions?others=true')
    if (response.ok)
      say(
        body.ended === 1
          ? 'Signed out 1 other session.'
          : `Signed out ${body.ended} other sessions.`,
      )
    else say(body?.message ?? `Could not sign the others out (${response.status}).`)
    await load()
  })

  load().catch(() => say('Could not load your sessions.'))
})()
