// The SDK sends every tab to /login?reason=idle; ward-ui.js kept the reason the session really
// ended with (evicted, revoked, logout, …), so the message can say what happened.
;(() => {
  let reason = null
  try {
    reason = sessionStorage.getItem('sessionward-demo:reason')
    sessionStorage.removeItem('sessionward-demo:reason')
  } catch {
    return
  }
  const notice = document.querySelector('[data-testid="login-reason"]')
  if (!reason || !notice) return
  // The messages come from the server (pages.ts), which renders the same text without scripts.
  const messages = JSON.parse(notice.dataset.messages ?? '{}')
  notice.dataset.reason = reason
  notice.textContent = messages[reason] ?? 'Your session has ended.'
})()
