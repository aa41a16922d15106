// The server renders the text for `?reason=`, which the SDK sets to the reason the session
// ended with. ward-ui.js also kept that reason (evicted, revoked, logout, …) from the SDK's
// expire event, so the message is right even when the redirect URL carries another one.
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
  // Own keys only, so a stored "constructor" is not Object.prototype's; textContent never parses.
  notice.textContent = Object.hasOwn(messages, reason)
    ? messages[reason]
    : 'Your session has ended.'
})()
