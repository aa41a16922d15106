import {
  createPrivateKey,
  createPublicKey,
  createSecretKey,
  KeyObject,
  type JsonWebKey as NodeJsonWebKey,
} from 'node:crypto'
import { WardOptionsError } from './errors.ts'
import { assertKnownKeys } from './option-checks.ts'

// The \`jwt\` option: its types and validation, below everything that issues or verifies tokens,
// so options can resolve it without importing the JWT machinery (and its session imports).

/** Signature algorithms an access token may use. `none` is never one of them. */
export type JwtAlgorithm = 'HS256' | 'EdDSA' | 'ES256' | 'RS256'

/** Key material: a PEM string, a JWK object, a Node `KeyObject` or a WebCrypto `CryptoKey`. */
export type JwtKeyMaterial = string | JsonWebKey | KeyObject | CryptoKey

/** One key: an HMAC `secret`, or an asymmetric `privateKey` (signs) / `publicKey` (verifies). */
export interface JwtKeyOptions {
  /** Key id, written in the token header and used to pick the key when verifying. */
  kid?: string
  /** Default: HS256 for a secret; for an asymmetric key, the one its type allows. */
  alg?: JwtAlgorithm
  /** HS256 secret: at least 32 bytes (a string counts its UTF-8 bytes). */
  secret?: string | Uint8Array | KeyObject
  privateKey?: JwtKeyMaterial
  publicKey?: JwtKeyMaterial
}

/** The `jwt` option: turns on `POST /session/token` and JWT access tokens in the middleware. */
export interface JwtOptions extends JwtKeyOptions {
  /** Seconds an access token lives (default 300). */
  accessTtl?: number
  /** `iss` written and required when set. */
  issuer?: string
  /** `aud` written and required when set. */
  audience?: string
  /** `POST /session/token` also returns a new session token and retires the one it was called with. */
  rotateOnRefresh?: boolean
  /**
   * Seconds after a rotation during which the immediately previous session token is still
   * accepted (concurrent refreshes from tabs sharing one cookie); 0 to 60, default 10. After it
   * a retired token presented again ends the session (`refresh_reuse`).
   */
  reuseInterval?: number
  /** More keys accepted for verification only, picked by `kid` (key rotation). */
  verificationKeys?: JwtKeyOptions[]
}

/** A key after validation: its algorithm is fixed here, never taken from a token. */
export interface ResolvedJwtKey {
  kid: string | undefined
  alg: JwtAlgorithm
  verifyKey: KeyObject
  signKey: KeyObject | undefined
}

/** The `jwt` option after defaults and validation. */
export interface ResolvedJwtOptions {
  signing: ResolvedJwtKey & { signKey: KeyObject }
  /** Verification keys by kid (`''` for the single key without a kid). */
  keys: Map<string, ResolvedJwtKey>
  accessTtl: number
  issuer: string | undefined
  audience: string | undefined
  rotateOnRefresh: boolean
  reuseInterval: number
}

const ALGORITHMS: readonly JwtAlgorithm[] = ['HS256', 'EdDSA', 'ES256', 'RS256']
const MIN_SECRET_BYTES = 32
const MIN_RSA_BITS = 2048
// A retired token accepted for longer than a minute is a stolen token's head start, not leeway.
const MAX_REUSE_INTERVAL = 60

function keyObject(material: JwtKeyMaterial, kind: 'private' | 'public', where: string): KeyObject {
  try {
    if (material instanceof KeyObject) return material
    if (typeof CryptoKey !== 'undefined' && material instanceof CryptoKey) {
      return KeyObject.from(material)
    }
    const input =
      typeof material === 'string'
        ? material
        : { key: material as NodeJsonWebKey, format: 'jwk' as const }
    return kind === 'private' ? createPrivateKey(input) : createPublicKey(input)
  } catch (error) {
    throw new WardOptionsError(
      `${where} is not a usable ${kind} key (PEM, JWK, KeyObject or CryptoKey): ${(error as Error).message}`,
    )
  }
}

function secretKey(secret: JwtKeyOptions['secret'], where: string): KeyObject {
  let key: KeyObject
  if (secret instanceof KeyObject) key = secret
  else if (typeof secret === 'string') key = createSecretKey(Buffer.from(secret, 'utf8'))
  else if (secret instanceof Uint8Array) key = createSecretKey(secret)
  else throw new WardOptionsError(`${where}.secret must be a string, a Uint8Array or a KeyObject`)
  if (key.type !== 'secret') throw new WardOptionsError(`${where}.secret must be a secret key`)
  // HS256 is only as strong as its key: RFC 7518 §3.2 asks for at least 256 bits.
  if ((key.symmetricKeySize ?? 0) < MIN_SECRET_BYTES) {
    throw new WardOptionsError(
      `${where}.secret must be at least ${MIN_SECRET_BYTES} bytes (e.g. randomBytes(32).toString('base64url'))`,
    )
  }
  return key
}

/** The algorithm an asymmetric key allows, so a key is only ever used with one algorithm. */
function algorithmOf(key: KeyObject): JwtAlgorithm | undefined {
  if (key.asymmetricKeyType === 'ed25519') return 'EdDSA'
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') {
    return 'ES256'
  }
  if (
    key.asymmetricKeyType === 'rsa' &&
    (key.asymmetricKeyDetails?.modulusLength ?? 0) >= MIN_RSA_BITS
  ) {
    return 'RS256'
  }
  return undefined
}

function resolveKey(options: JwtKeyOptions, where: string, needSigning: boolean): ResolvedJwtKey {
  if (typeof options !== 'object' || options === null) {
    throw new WardOptionsError(`${where} must be an object`)
  }
  const { kid, alg } = options
  if (kid !== undefined && (typeof kid !== 'string' || kid === '' || kid.length > 128)) {
    throw new WardOptionsError(`${where}.kid must be a string of 1 to 128 characters`)
  }
  if (alg !== undefined && !ALGORITHMS.includes(alg)) {
    throw new WardOptionsError(
      `${where}.alg must be one of ${ALGORITHMS.map((a) => `'${a}'`).join(', ')}, got ${JSON.stringify(alg)}`,
    )
  }
  const asymmetric = options.privateKey !== undefined || options.publicKey !== undefined
  if (options.secret !== undefined && asymmetric) {
    throw new WardOptionsError(`${where}: give either secret or privateKey/publicKey, not both`)
  }
  if (options.secret !== undefined || (!asymmetric && (alg ?? 'HS256') === 'HS256')) {
    if (options.secret === undefined) {
      throw new WardOptionsError(`${where} needs a secret (HS256) or a privateKey/publicKey`)
    }
    if ((alg ?? 'HS256') !== 'HS256') {
      throw new WardOptionsError(`${where}.alg ${alg} needs privateKey/publicKey, not a secret`)
    }
    const key = secretKey(options.secret, where)
    return { kid, alg: 'HS256', verifyKey: key, signKey: key }
  }
  const signKey =
    options.privateKey === undefined
      ? undefined
      : keyObject(options.privateKey, 'private', `${where}.privateKey`)
  if (needSigning && !signKey) {
    throw new WardOptionsError(`${where} needs a privateKey to sign access tokens`)
  }
  // A public key derived from the private one when not given: the pair always matches.
  const verifyKey = options.publicKey
    ? keyObject(options.publicKey, 'public', `${where}.publicKey`)
    : createPublicKey(signKey as KeyObject)
  const keyAlg = algorithmOf(verifyKey)
  if (!keyAlg) {
    throw new WardOptionsError(
      `${where}: unsupported key type; use Ed25519 (EdDSA), P-256 (ES256) or RSA >= ${MIN_RSA_BITS} bits (RS256)`,
    )
  }
  if (alg !== undefined && alg !== keyAlg) {
    throw new WardOptionsError(`${where}.alg is ${alg} but the key is for ${keyAlg}`)
  }
  if (signKey && algorithmOf(createPublicKey(signKey)) !== keyAlg) {
    throw new WardOptionsError(`${where}: privateKey and publicKey are of different types`)
  }
  return { kid, alg: keyAlg, verifyKey, signKey }
}

function optionalString(name: string, value: unknown): string | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'string' || value === '') {
    throw new WardOptionsError(`${name} must be a non-empty string`)
  }
  return value
}

/**
 * Validates the `jwt` option: keys are imported once, each pinned to one algorithm, so a token
 * can never choose how it is verified.
 *
 * @example
 * resolveJwtOptions({ secret: process.env.JWT_SECRET, accessTtl: 300 })
 */
export function resolveJwtOptions(options: JwtOptions): ResolvedJwtOptions {
  if (typeof options !== 'object' || options === null) {
    throw new WardOptionsError('jwt must be an object like { secret } or { privateKey }')
  }
  const keyFields = {
    kid: true,
    alg: true,
    secret: true,
    privateKey: true,
    publicKey: true,
  } satisfies Record<keyof JwtKeyOptions, true>
  const fields = {
    ...keyFields,
    accessTtl: true,
    issuer: true,
    audience: true,
    rotateOnRefresh: true,
    reuseInterval: true,
    verificationKeys: true,
  } satisfies Record<keyof JwtOptions, true>
  assertKnownKeys(options, Object.keys(fields), 'jwt')
  const accessTtl = options.accessTtl ?? 300
  if (typeof accessTtl !== 'number' || !Number.isSafeInteger(accessTtl) || accessTtl < 1) {
    throw new WardOptionsError(
      `jwt.accessTtl must be a whole number of seconds >= 1, got ${JSON.stringify(accessTtl)}`,
    )
  }
  if (options.rotateOnRefresh !== undefined && typeof options.rotateOnRefresh !== 'boolean') {
    throw new WardOptionsError(
      `jwt.rotateOnRefresh must be true or false, got ${JSON.stringify(options.rotateOnRefresh)}`,
    )
  }
  const reuseInterval = options.reuseInterval === undefined ? 10 : options.reuseInterval
  if (
    typeof reuseInterval !== 'number' ||
    !Number.isSafeInteger(reuseInterval) ||
    reuseInterval < 0 ||
    reuseInterval > MAX_REUSE_INTERVAL
  ) {
    throw new WardOptionsError(
      `jwt.reuseInterval must be a whole number of seconds from 0 to ${MAX_REUSE_INTERVAL}, got ${JSON.stringify(reuseInterval)}`,
    )
  }
  const extra = options.verificationKeys ?? []
  if (!Array.isArray(extra)) {
    throw new WardOptionsError('jwt.verificationKeys must be a list of keys')
  }
  const signing = resolveKey(options, 'jwt', true) as ResolvedJwtOptions['signing']
  const all = [
    signing,
    ...extra.map((key, i) => {
      assertKnownKeys(key, Object.keys(keyFields), `jwt.verificationKeys[${i}]`)
      return resolveKey(key, `jwt.verificationKeys[${i}]`, false)
    }),
  ]
  // With several keys, every token names its key: no guessing, no trying keys in turn.
  if (all.length > 1 && all.some((key) => key.kid === undefined)) {
    throw new WardOptionsError(
      'jwt: with verificationKeys, every key (the signing one too) needs a kid',
    )
  }
  const keys = new Map<string, ResolvedJwtKey>()
  for (const key of all) {
    const id = key.kid ?? ''
    if (keys.has(id)) throw new WardOptionsError(`jwt: kid ${JSON.stringify(id)} is used twice`)
    keys.set(id, key)
  }
  return {
    signing,
    keys,
    accessTtl,
    issuer: optionalString('jwt.issuer', options.issuer),
    audience: optionalString('jwt.audience', options.audience),
    rotateOnRefresh: options.rotateOnRefresh ?? false,
    reuseInterval,
  }
}
