import { defineVerifier } from '../verifier';
import { parseStandardWebhooksOptions, STANDARD_HEADERS, SVIX_HEADERS, verifyStandardWebhook } from './standardWebhooks';

/**
 * Svix: Standard Webhooks under the `svix-id` / `svix-timestamp` / `svix-signature` names, with the
 * `webhook-*` names accepted too (the svix library does the same). The family is chosen by which id
 * header is present, and all three headers are read from that one family, never mixed.
 */
export const svixVerifier = defineVerifier({
  scheme: 'svix',
  parseOptions: (secret: unknown) => parseStandardWebhooksOptions('svix', secret),
  verify: (request, options) =>
    verifyStandardWebhook(request, options, request.headers.has(SVIX_HEADERS.id) || !request.headers.has(STANDARD_HEADERS.id) ? SVIX_HEADERS : STANDARD_HEADERS),
});
