import { parseGitHubEvent } from './github';
import { parseGooglePubSubEvent } from './googlePubSub';
import { parseGraphNotifications } from './msgraph';
import { parseNotionEvent } from './notion';
import { parseSalesforceOutboundMessage } from './salesforce';
import { parseShopifyEvent } from './shopify';
import { parseSlackEvent } from './slack';
import { parseStripeEvent } from './stripe';
import type { ProviderEventParser } from './types';

export type { ParsedEvent, ProviderEventInput, ProviderEventParser, RecordChange } from './types';

/** Per signature scheme: how its provider's events become record changes (docs/webhook-intake.md). */
const PARSERS: Record<string, ProviderEventParser> = {
  github: parseGitHubEvent,
  stripe: parseStripeEvent,
  shopify: parseShopifyEvent,
  slack: parseSlackEvent,
  notion: parseNotionEvent,
  'google-pubsub': parseGooglePubSubEvent,
  msgraph: parseGraphNotifications,
  salesforce: parseSalesforceOutboundMessage,
};

export function providerEventParser(scheme: string): ProviderEventParser | undefined {
  return Object.hasOwn(PARSERS, scheme) ? PARSERS[scheme] : undefined;
}
