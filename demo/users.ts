import { randomBytes, scryptSync, timingSafeEqual } from 'node:crypto'

/** A demo account. The library does not own users: the host app does, as here. */
export interface DemoUser {
  id: string
  name: string
  password: string
  role: 'user' | 'admin'
}

/** The seeded accounts of DESIGN §5: alice/alice, bob/bob and admin/admin (admin role). */
export const SEEDED_USERS: readonly DemoUser[] = [
  { id: 'alice', name: 'Alice', password: 'alice', role: 'user' },
  { id: 'bob', name: 'Bob', password: 'bob', role: 'user' },
  { id: 'admin', name: 'Admin', password: 'admin', role: 'admin' },
]

/** A user as the app sees it after sign-in: no password. */
export type PublicUser = Omit<DemoUser, 'password'>

interface StoredUser {
  user: PublicUser
  salt: Buffer
  digest: Buffer
}

// Small scrypt parameters: the demo hashes its seeds at every start, and this is not a vault.
const SCRYPT = { N: 1024, r: 8, p: 1 }
const KEY_LENGTH = 32

function digest(password: string, salt: Buffer): Buffer {
  return scryptSync(password, salt, KEY_LENGTH, SCRYPT)
}

/** The demo's user directory: salted scrypt digests, compared in constant time. */
export interface UserDirectory {
  /** The user with these credentials, or null. Takes the same work for unknown names. */
  verify(username: string, password: string): PublicUser | null
  get(id: string): PublicUser | null
}

/**
 * Builds the user directory, hashing each password with its own salt.
 *
 * @example
 * const users = createUserDirectory(SEEDED_USERS)
 * users.verify('alice', 'alice') // { id: 'alice', name: 'Alice', role: 'user' }
 */
export function createUserDirectory(users: readonly DemoUser[]): UserDirectory {
  const byId = new Map<string, StoredUser>()
  for (const { password, ...user } of users) {
    const salt = randomBytes(16)
    byId.set(user.id, { user, salt, digest: digest(password, salt) })
  }
  // Unknown names are checked against this, so a wrong name costs as much as a wrong password.
  const decoy = { salt: randomBytes(16), digest: randomBytes(KEY_LENGTH) }
  return {
    verify(username, password) {
      const stored = byId.get(username)
      const candidate = digest(password, (stored ?? decoy).salt)
      // Both digests are KEY_LENGTH bytes, as timingSafeEqual requires.
      const same = timingSafeEqual(candidate, (stored ?? decoy).digest)
      return same && stored ? stored.user : null
    },
    get: (id) => byId.get(id)?.user ?? null,
  }
}
