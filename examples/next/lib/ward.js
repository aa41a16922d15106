import { createWard } from '@sessionward/server'
import { nextWard } from '@sessionward/server/next'

// One ward per process: Next loads this module in the proxy's bundle and in the app's, so the
// ward is kept on globalThis (with PGlite in memory, two wards would be two databases).
globalThis.sessionward ??= createWard({
  database: process.env.DATABASE_URL, // unset: embedded PGlite in memory
  warnAfter: Number(process.env.WARN_AFTER ?? 840),
  expireAfter: Number(process.env.EXPIRE_AFTER ?? 900),
}).then(async (ward) => {
  await ward.migrate()
  return nextWard(ward)
})

export const sw = await globalThis.sessionward

// Your users: look the user up in your own store and verify the password hash (argon2, scrypt).
export async function checkPassword(username, password) {
  return username === 'alice' && password === 'alice' ? 'user-1' : null
}
