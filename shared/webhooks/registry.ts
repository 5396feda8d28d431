import { SyncBridgeError } from '../core/errors';
import { basicVerifier } from './schemes/basic';
import { bearerVerifier } from './schemes/bearer';
import { customHmacVerifier } from './schemes/customHmac';
import { githubVerifier } from './schemes/github';
import { googlePubsubVerifier } from './schemes/googlePubsub';
import { jwtVerifier } from './schemes/jwt';
import { msgraphVerifier } from './schemes/msgraph';
import { notionVerifier } from './schemes/notion';
import { salesforceVerifier } from './schemes/salesforce';
import { shopifyVerifier } from './schemes/shopify';
import { slackVerifier } from './schemes/slack';
import { standardWebhooksVerifier } from './schemes/standardWebhooks';
import { stripeVerifier } from './schemes/stripe';
import { svixVerifier } from './schemes/svix';
import { twilioVerifier } from './schemes/twilio';
import { zoomVerifier } from './schemes/zoom';
import type { WebhookVerifier } from './verifier';
import type { WebhookScheme } from './types';

/** One verifier per scheme; adding a scheme means one file under schemes/ and one line here. */
const verifiers: { [S in WebhookScheme]: WebhookVerifier<any> } = {
  github: githubVerifier,
  slack: slackVerifier,
  stripe: stripeVerifier,
  shopify: shopifyVerifier,
  'standard-webhooks': standardWebhooksVerifier,
  svix: svixVerifier,
  notion: notionVerifier,
  zoom: zoomVerifier,
  twilio: twilioVerifier,
  salesforce: salesforceVerifier,
  'google-pubsub': googlePubsubVerifier,
  msgraph: msgraphVerifier,
  hmac: customHmacVerifier,
  jwt: jwtVerifier,
  bearer: bearerVerifier,
  basic: basicVerifier,
};

/** Every scheme id, in a stable order (for docs, benchmarks and validation of connection settings). */
export const webhookSchemes = Object.keys(verifiers) as WebhookScheme[];

export function isWebhookScheme(value: unknown): value is WebhookScheme {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(verifiers, value);
}

export function webhookVerifierFor(scheme: WebhookScheme): WebhookVerifier<unknown> {
  if (!isWebhookScheme(scheme)) {
    throw new SyncBridgeError('configuration', `The webhook scheme ${JSON.stringify(scheme)} is not one of: ${webhookSchemes.join(', ')}.`);
  }
  return verifiers[scheme];
}
