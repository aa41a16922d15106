// The two pages every example serves, so the examples differ only in their framework's wiring:
// a login form that posts JSON to /login, and a signed-in page that loads the browser SDK from
// the ward's own routes (the script tag) and shows the user from the guarded /api/me.

/** The login form; `?reason=idle` (where the SDK sends a timed-out user) is said on the page. */
export function loginPage() {
  return `<!doctype html>
<html lang="en"><meta charset="utf-8"><title>Sign in</title>
<h1>Sign in</h1>
<p id="reason"></p>
<form id="login">
  <label>Username <input id="username" autocomplete="username" required></label>
  <label>Password <input id="password" type="password" autocomplete="current-password" required></label>
  <button type="submit">Sign in</button>
</form>
<p id="error" role="alert"></p>
<script type="module">
  const reason = new URLSearchParams(location.search).get('reason')
  if (reason) document.querySelector('#reason').textContent = 'Signed out: ' + reason
  document.querySelector('#login').addEventListener('submit', async (event) => {
    event.preventDefault()
    const answer = await fetch('/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        username: document.querySelector('#username').value,
        password: document.querySelector('#password').value,
      }),
    })
    if (answer.ok) location.assign('/')
    else document.querySelector('#error').textContent = (await answer.json()).message
  })
</script>
</html>`
}

/** The signed-in page: the SDK from `/session/sessionward.js`, the user, a sign-out button. */
export function homePage({ framework }) {
  return `<!doctype html>
<html lang="en"><meta charset="utf-8"><title>Signed in (${framework})</title>
<h1>Signed in with ${framework}</h1>
<p>User: <output id="user">…</output> · SDK state: <output id="state">starting</output></p>
<button id="logout" type="button">Sign out</button>
<script src="/session/sessionward.js" data-ping-url="/session/ping"
        data-logout-url="/session/logout" data-redirect-to="/login?reason=idle"></script>
<script type="module">
  const { ward } = window.SessionWard
  const state = document.querySelector('#state')
  state.textContent = ward.getState()
  addEventListener('sessionward:state', (event) => { state.textContent = event.detail.state })
  const me = await fetch('/api/me')
  document.querySelector('#user').textContent = me.ok ? (await me.json()).userId : me.status
  document.querySelector('#logout').addEventListener('click', () => ward.logout())
</script>
</html>`
}
