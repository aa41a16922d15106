export type { AdminRoutesOptions } from './admin/routes.ts'
export type { ClientScript } from './client-script.ts'
export { migrate } from './database.ts'
export { SessionEntity } from './entity.ts'
export { StoreUnavailableError, WardOptionsError } from './errors.ts'
export type {
  CreateSessionOptions,
  IdentityProviderOptions,
  SecurityEventSubject,
} from './idp-options.ts'
export type { AccessClaims, IssuedAccessToken } from './jwt.ts'
export type { JwtAlgorithm, JwtKeyMaterial, JwtKeyOptions, JwtOptions } from './jwt-options.ts'
export type { KnownDevice } from './known-device.ts'
export type { LoginThrottle, RequestAddress } from './login-throttle.ts'
export { markPassive, type WardEnv } from './middleware.ts'
export {
  type CookieOptions,
  DEFAULT_POLICY,
  type NewDeviceEvent,
  type NewDeviceOptions,
  type ReportEvent,
  type WardHooks,
  type WardLogger,
  type WardOptions,
} from './options.ts'
export type {
  AuthenticateOptions,
  AuthenticateOutcome,
  Refusal,
  RequestFacts,
  SignInFacts,
  SignInOutcome,
  WardProblem,
} from './outside-hono.ts'
export { presets } from './presets.ts'
export type { ErrorCode } from './problems.ts'
export type { PingAnswer } from './reconcile.ts'
export { reconcileLastActivity } from './rules.ts'
export type { CreatedSession, IdpLink, SessionInfo } from './session.ts'
export type { Limit, ThrottleOptions } from './throttle-options.ts'
export { generateToken, hashToken } from './tokens.ts'
export { type ParsedUserAgent, parseUserAgent } from './user-agent.ts'
export type { EndReason, OnLimit, SessionPolicy, UserAgentBinding } from './vocabulary.ts'
export {
  createWard,
  type EndSessionsOptions,
  type ListSessionsOptions,
  type SessionPage,
  type Ward,
} from './ward.ts'
