// The SDK sends every tab to /login?reason=idle; ward-ui.js kept the reason the session really
// ended with (evicted, revoked, logout, …), so the message can say what happened.
;(() => {
  const MESSAGES = {
    idle: 'You were signed out after a period of inactivity.',
    logout: 'You signed out.',
    evicted: 'You were signed out because this account signed in on too many devices.',
    revoked: 'This session was signed out from another device.',
    absolute: 'Your session reached its maximum length. Please sign in again.',
    admin: 'An administrator ended your session.',
    user_agent_changed: 'Your session was ended because the browser changed.',
  }
  let reason = null
  try {
    reason = sessionStorage.getItem('sessionward-demo:reason')
    sessionStorage.removeItem('sessionward-demo:reason')
  } catch {
    return
  }
  const notice = document.querySelector('[data-testid="login-reason"]')
  if (!reason || !notice) return
  notice.dataset.reason = reason
  notice.textContent = MESSAGES[reason] ?? 'Your session has ended.'
})()
