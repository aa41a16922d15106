'use client'
import { SessionWardProvider, useSessionWard } from '@sessionward/client/react'
import { useEffect, useState } from 'react'

const options = {
  pingUrl: '/session/ping',
  logoutUrl: '/session/logout',
  redirectTo: '/login?reason=idle',
}

function Status() {
  const { state, logout } = useSessionWard()
  const [user, setUser] = useState('…')
  useEffect(() => {
    fetch('/api/me').then(async (answer) =>
      setUser(answer.ok ? (await answer.json()).userId : answer.status),
    )
  }, [])
  return (
    <>
      <p>
        User: <output id="user">{user}</output> · SDK state: <output id="state">{state}</output>
      </p>
      <button id="logout" type="button" onClick={logout}>
        Sign out
      </button>
    </>
  )
}

export function Home({ userId }) {
  return (
    <main>
      <h1>Signed in with Next.js as {userId}</h1>
      <SessionWardProvider options={options}>
        <Status />
      </SessionWardProvider>
    </main>
  )
}
