// Shared by the signed-in pages: mirrors the SDK's state and countdown, remembers why the
// session ended (for the login page), and signs out through the SDK so every tab follows.
// A served file, not an inline script: the demo's Content-Security-Policy is default-src 'self'.
;(() => {
  const ward = window.SessionWard?.ward ?? null
  // Every [data-ward="state"] and [data-ward="countdown"] of the page (header and dashboard).
  const states = document.querySelectorAll('[data-ward="state"]')
  const countdowns = document.querySelectorAll('[data-ward="countdown"]')

  const clock = (seconds) => `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')}`

  function render() {
    const state = ward ? ward.getState() : 'unavailable'
    const live = state === 'active' || state === 'warning'
    for (const output of states) {
      output.textContent = state
      output.dataset.state = state
    }
    for (const countdown of countdowns) {
      countdown.textContent = live ? clock(ward.getRemaining()) : '–'
    }
  }

  window.addEventListener('sessionward:state', render)
  window.addEventListener('sessionward:expire', (event) => {
    // Every tab lands on the SDK's redirectTo (?reason=idle); login.js shows the real reason.
    try {
      sessionStorage.setItem('sessionward-demo:reason', event.detail.reason)
    } catch {
      // Storage may be off; the login page then shows the generic message.
    }
  })
  setInterval(render, 1000)
  render()

  for (const button of document.querySelectorAll('[data-action="sign-out"]')) {
    button.addEventListener('click', async () => {
      if (ward) {
        ward.logout() // one logout request, every tab of this browser leaves
        return
      }
      await fetch('/session/logout', { method: 'POST', credentials: 'same-origin' })
      location.assign('/login?reason=logout')
    })
  }
})()
