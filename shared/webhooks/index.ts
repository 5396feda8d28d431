/**
 * Webhook signature verification for the providers SyncBridge receives webhooks from. One entry
 * point, `verifyWebhook(scheme, input)`; the rules per scheme are in docs/webhooks.md.
 */
export type { VerifyWebhookInput, VerifyWebhookResult, WebhookHandshake, WebhookScheme } from './types';
export type * from './options';
export type { WebhookHeadersInit } from './support/headers';
export { verifyWebhook, checkWebhookOptions } from './verifyWebhook';
export { webhookSchemes, isWebhookScheme } from './registry';
export { readNotionVerificationToken } from './schemes/notion';
export { RemoteJwksCache, type RemoteJwksCacheOptions } from './jwt/remoteJwks';
export { GOOGLE_OAUTH2_CERTS_URI } from './schemes/googlePubsub';
export { MICROSOFT_JWKS_URI, GRAPH_CHANGE_TRACKING_APP_ID } from './schemes/msgraph';
