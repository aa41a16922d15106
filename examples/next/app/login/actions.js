'use server'
import { redirect } from 'next/navigation'
import { checkPassword, sw } from '../../lib/ward.js'

// A server action may set cookies: signIn sets the session cookie through next/headers.
export async function signInAction(_previous, form) {
  const userId = await checkPassword(form.get('username'), form.get('password'))
  if (!userId) return { error: 'wrong username or password' }
  const outcome = await sw.signIn(userId)
  if ('problem' in outcome) return { error: outcome.problem.message } // origin_rejected, session_limit
  redirect('/')
}
