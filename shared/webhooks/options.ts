import type { JsonWebKey } from 'node:crypto';
import type { SecretListOptions } from './support/secrets';

/**
 * Options per scheme, passed as `secret` to verifyWebhook. Every field is documented with its
 * default in docs/webhooks.md. `secret` / `secrets` are the active secrets; any one verifies.
 */

/** A JSON Web Key Set (RFC 7517 §5), as served by a provider's jwks_uri. */
export interface JSONWebKeySet {
  keys: JsonWebKey[];
}

/** Settings shared by schemes that carry a signed timestamp. */
export interface ToleranceOptions {
  /** How far the signed timestamp may be from now, in the past or the future. Default 300. */
  toleranceSeconds?: number;
}

export type GithubWebhookOptions = SecretListOptions;
export type SlackWebhookOptions = SecretListOptions & ToleranceOptions;
/** The `whsec_…` endpoint secret is used as-is (its bytes are the HMAC key). */
export type StripeWebhookOptions = SecretListOptions & ToleranceOptions;
/** The app's client secret (or the shop's webhook secret for custom apps). */
export type ShopifyWebhookOptions = SecretListOptions;

/**
 * Symmetric secrets are `whsec_<base64>` (the prefix is optional); asymmetric public keys are
 * `whpk_<base64 of the 32-byte Ed25519 key>`, passed in `secrets` or in `publicKeys`.
 */
export interface StandardWebhooksOptions extends SecretListOptions, ToleranceOptions {
  publicKeys?: string[];
}
export type SvixWebhookOptions = StandardWebhooksOptions;

/** The subscription's verification_token. Empty until Notion's handshake delivered it. */
export type NotionWebhookOptions = SecretListOptions;
/** The app's Secret Token. */
export type ZoomWebhookOptions = SecretListOptions & ToleranceOptions;
/** The account's Auth Token(s). */
export type TwilioWebhookOptions = SecretListOptions;

export interface SalesforceWebhookOptions extends SecretListOptions {
  /** Marketing Cloud ENS callback signature keys; `secret`/`secrets` are read the same way. */
  signatureKeys?: string[];
  /** How ENS keys turn into HMAC key bytes: 'utf8' (default, the key string as given) or 'base64'. */
  signatureKeyEncoding?: 'utf8' | 'base64';
  /** Organization ids (15 or 18 characters) whose unsigned Outbound Messages are accepted. */
  organizationIds?: string[];
}

/** Where signing keys come from: inline (tests, pinned keys) or a jwks_uri fetched and cached. */
export interface JwksSourceOptions {
  jwks?: JSONWebKeySet;
  jwksUri?: string;
}

export interface GooglePubsubWebhookOptions extends JwksSourceOptions {
  /** The audience configured on the push subscription (usually the push endpoint URL). Required. */
  audience: string | string[];
  /** The push subscription's service account email(s); strongly recommended. */
  email?: string | string[];
  /** Accepted issuers. Default: https://accounts.google.com and accounts.google.com. */
  issuer?: string | string[];
  /** Clock skew allowed on exp/nbf/iat, in seconds. Default 0. */
  clockToleranceSeconds?: number;
}

export interface MsgraphWebhookOptions extends SecretListOptions, JwksSourceOptions {
  /** The clientState values set on the subscriptions; `secret`/`secrets` are read the same way. */
  clientStates?: string[];
  /** Application (client) id: the audience of rich notifications' validation tokens. */
  appId?: string | string[];
  /** If set, validation tokens must come from one of these Entra tenant ids. */
  tenantIds?: string[];
  clockToleranceSeconds?: number;
}

export interface HmacWebhookOptions extends SecretListOptions, ToleranceOptions {
  /** Header carrying the signature. Required. */
  header: string;
  algorithm: 'sha1' | 'sha256' | 'sha512';
  encoding: 'hex' | 'base64';
  /** Text before the encoded signature, e.g. "sha256=". Default none. */
  prefix?: string;
  /** Header carrying unix seconds; when set the signed content is `{timestamp}.{body}`. */
  timestampHeader?: string;
}

export interface JwtWebhookOptions extends SecretListOptions, JwksSourceOptions {
  /** Header carrying the token. Default "Authorization". */
  header?: string;
  /** Auth scheme before the token. Default "Bearer" for Authorization, none for other headers; "" for none. */
  authScheme?: string;
  audience?: string | string[];
  issuer?: string | string[];
  /** Accepted algorithms. Default: HS256/384/512 for shared secrets, RS/PS/ES/EdDSA for keys. */
  algorithms?: string[];
  clockToleranceSeconds?: number;
  /** Reject tokens without `exp`. Default true: a webhook token must not be replayable forever. */
  requireExpiration?: boolean;
}

export interface BearerWebhookOptions extends SecretListOptions {
  /** Header carrying the token. Default "Authorization" (then "Bearer <token>" is required). */
  header?: string;
}

export interface BasicCredential {
  username: string;
  password: string;
}

/** `secret` may also be "user:password" strings. */
export interface BasicWebhookOptions extends SecretListOptions {
  username?: string;
  password?: string;
  credentials?: BasicCredential[];
}

export interface WebhookOptionsByScheme {
  github: GithubWebhookOptions;
  slack: SlackWebhookOptions;
  stripe: StripeWebhookOptions;
  shopify: ShopifyWebhookOptions;
  'standard-webhooks': StandardWebhooksOptions;
  svix: SvixWebhookOptions;
  notion: NotionWebhookOptions;
  zoom: ZoomWebhookOptions;
  twilio: TwilioWebhookOptions;
  salesforce: SalesforceWebhookOptions;
  'google-pubsub': GooglePubsubWebhookOptions;
  msgraph: MsgraphWebhookOptions;
  hmac: HmacWebhookOptions;
  jwt: JwtWebhookOptions;
  bearer: BearerWebhookOptions;
  basic: BasicWebhookOptions;
}
