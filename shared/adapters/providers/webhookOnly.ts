import { SyncBridgeError } from '../../core/errors';
import type { JsonObject } from '../../core/model';
import type { AdapterDefinition, ProviderAdapter } from '../adapter';
import { circuitBreakerOptionsOf, withCircuitDefaults } from '../../http/connectionLimits';

/**
 * Providers whose records reach SyncBridge only through their signed webhooks, parsed by
 * shared/webhooks/events: there is no pull client for them yet, so no sync runs (their schedule is
 * off and starting a run is refused) and events that carry only an id cannot be fetched — those are
 * logged as ignored with the reason. The provider name is the signature scheme's.
 */
const WEBHOOK_ONLY: ReadonlyArray<{ provider: string; displayName: string; entities: readonly string[] }> = [
  { provider: 'github', displayName: 'GitHub', entities: ['issues', 'pull_requests'] },
  { provider: 'stripe', displayName: 'Stripe', entities: ['customers', 'invoices'] },
  { provider: 'shopify', displayName: 'Shopify', entities: ['orders', 'products'] },
  { provider: 'slack', displayName: 'Slack', entities: ['messages', 'users'] },
  { provider: 'notion', displayName: 'Notion', entities: ['pages'] },
  { provider: 'google-pubsub', displayName: 'Google Calendar (via Pub/Sub)', entities: ['events'] },
  { provider: 'msgraph', displayName: 'Microsoft 365 (Graph)', entities: ['events'] },
  { provider: 'salesforce', displayName: 'Salesforce (Outbound Messages)', entities: ['accounts', 'contacts', 'leads', 'opportunities'] },
];

function noPullClient(provider: string): SyncBridgeError {
  return new SyncBridgeError('validation', `${provider} connections receive their records by webhook only; SyncBridge has no pull client for ${provider} yet.`);
}

function webhookOnlyDefinition(spec: (typeof WEBHOOK_ONLY)[number]): AdapterDefinition {
  return {
    provider: spec.provider,
    displayName: spec.displayName,
    entities: spec.entities,
    maxPageSize: 1,
    webhookOnly: true,
    validateConfig(config: JsonObject): JsonObject {
      // Every adapter gets the connection's circuit (adapterFor.ts), so a bad setting is refused
      // at save here too, not by each later adapterFor call.
      withCircuitDefaults(circuitBreakerOptionsOf(config));
      return config;
    },
    create(): ProviderAdapter {
      return {
        provider: spec.provider,
        listPage: async () => {
          throw noPullClient(spec.provider);
        },
        getRecord: async () => {
          throw noPullClient(spec.provider);
        },
        checkHealth: async () => ({ ok: true, detail: 'webhook only: no API calls are made' }),
      };
    },
  };
}

export const webhookOnlyProviders: readonly AdapterDefinition[] = WEBHOOK_ONLY.map(webhookOnlyDefinition);
