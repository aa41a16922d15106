'use client'
import { useActionState } from 'react'
import { signInAction } from './actions.js'

export default function LoginPage() {
  const [state, action] = useActionState(signInAction, {})
  return (
    <main>
      <h1>Sign in</h1>
      <form action={action}>
        <label>
          Username <input id="username" name="username" autoComplete="username" required />
        </label>
        <label>
          Password <input id="password" name="password" type="password" required />
        </label>
        <button type="submit">Sign in</button>
      </form>
      <p role="alert">{state.error}</p>
    </main>
  )
}
