import type { Platform } from '../../ports/platform';
import { checkWebhookOptions } from '../../webhooks/verifyWebhook';
import type { WebhookScheme } from '../../webhooks/types';
import { SyncBridgeError, isSyncBridgeError } from '../errors';

/** Standard Webhooks allows several signatures per delivery; the sandbox takes up to 5 secrets. */
export const MAX_WEBHOOK_SECRETS = 5;

export const WEBHOOK_SCHEMES: readonly WebhookScheme[] = [
  'github', 'slack', 'stripe', 'shopify', 'standard-webhooks', 'svix', 'notion', 'zoom', 'twilio',
  'salesforce', 'google-pubsub', 'msgraph', 'hmac', 'jwt', 'bearer', 'basic',
];

/** The sandbox's scheme, and the default when a connection's settings name none. */
export const DEFAULT_WEBHOOK_SCHEME: WebhookScheme = 'standard-webhooks';

/**
 * A connection's webhook settings: the provider's signature scheme and that scheme's options
 * (docs/webhooks.md), always in object form (`{ secrets: [...] , ...}`) once stored.
 */
export interface WebhookSettings {
  scheme: WebhookScheme;
  options: Record<string, unknown>;
}

/** What an operator sends: secrets alone (the sandbox scheme), or a scheme with secrets and/or options. */
export interface WebhookSettingsInput {
  scheme?: string;
  secrets?: string[];
  options?: Record<string, unknown>;
}

export function webhookSecretName(connectionId: string): string {
  return `connection-${connectionId}-webhook-secrets`;
}

/**
 * Where the receiver keeps the verification_token of Notion's (unsigned) subscription handshake for
 * the operator, who reads it from the secret store, pastes it into Notion, and sets it as the
 * connection's secret. It is never adopted automatically: anyone can send that handshake.
 */
export function notionVerificationTokenName(connectionId: string): string {
  return `connection-${connectionId}-webhook-notion-verification-token`;
}

/** How many secrets the options hold (shown by the API instead of the secrets themselves). */
export function secretCountOf(settings: WebhookSettings): number {
  const o = settings.options;
  const lists = ['secrets', 'signatureKeys', 'clientStates', 'credentials', 'publicKeys'].map((k) => (Array.isArray(o[k]) ? (o[k] as unknown[]).length : 0));
  return lists.reduce((a, b) => a + b, 0) + (typeof o.secret === 'string' ? 1 : 0) + (typeof o.password === 'string' ? 1 : 0);
}

/** Validates what an operator sent and turns it into stored settings; messages name fields, never values. */
export function toWebhookSettings(input: WebhookSettingsInput): WebhookSettings {
  const scheme = (input.scheme ?? DEFAULT_WEBHOOK_SCHEME) as WebhookScheme;
  if (!WEBHOOK_SCHEMES.includes(scheme)) throw new SyncBridgeError('validation', `webhook.scheme must be one of ${WEBHOOK_SCHEMES.join(', ')}.`);
  if (input.secrets === undefined && input.options === undefined) throw new SyncBridgeError('validation', 'webhook: send secrets and/or options.');
  if (input.secrets !== undefined && (!Array.isArray(input.secrets) || input.secrets.length > MAX_WEBHOOK_SECRETS)) {
    throw new SyncBridgeError('validation', `webhook.secrets must hold at most ${MAX_WEBHOOK_SECRETS} secrets.`);
  }
  const options: Record<string, unknown> = { ...(input.options ?? {}) };
  if (input.secrets !== undefined) options.secrets = [...input.secrets];
  if (scheme === DEFAULT_WEBHOOK_SCHEME && input.options === undefined) {
    // The sandbox's form, as before schemes existed: 1–5 whsec_ values.
    const secrets = input.secrets ?? [];
    if (secrets.length === 0 || !secrets.every((s) => typeof s === 'string' && s.startsWith('whsec_'))) {
      throw new SyncBridgeError('validation', 'webhook.secrets: every secret must be a whsec_<base64> string.');
    }
  }
  try {
    checkWebhookOptions(scheme, options as never);
  } catch (error) {
    // The checker names the option and the problem, never a value (shared/webhooks/support/secrets.ts).
    if (isSyncBridgeError(error, 'configuration')) throw new SyncBridgeError('validation', `webhook.options: ${error.message}`);
    throw error;
  }
  return { scheme, options };
}

/**
 * A connection's webhook settings, kept in the secret store as one JSON document (a new version
 * per change; the whole document is secret because options hold the scheme's keys). Reads are
 * cached briefly because every delivery needs them: a rotation made through this object is seen
 * at once; one made by another instance within `cacheMs`.
 */
export class WebhookSecrets {
  private readonly cache = new Map<string, { settings: WebhookSettings | null; until: number }>();

  constructor(private readonly platform: Platform, private readonly cacheMs = 1000) {}

  /** Replaces the settings (rotation: send the new secret beside the old one, later drop the old). */
  async set(tenantId: string, connectionId: string, input: WebhookSettingsInput): Promise<WebhookSettings> {
    const settings = toWebhookSettings(input);
    await this.platform.secrets.set(webhookSecretName(connectionId), JSON.stringify(settings), {
      contentType: 'application/json',
      tags: { tenantId, connectionId, type: 'webhook', scheme: settings.scheme },
    });
    this.cache.delete(connectionId);
    return settings;
  }

  /**
   * The plain secrets (`options.secrets`), or null when the connection takes no webhooks: what
   * callers that only know the sandbox's scheme need (local/demoSetup.ts registers them with the sandbox).
   */
  async get(connectionId: string): Promise<string[] | null> {
    const settings = await this.settings(connectionId);
    if (!settings) return null;
    return Array.isArray(settings.options.secrets) ? (settings.options.secrets as string[]) : [];
  }

  /** The settings, or null when the connection takes no webhooks. */
  async settings(connectionId: string): Promise<WebhookSettings | null> {
    const now = Date.now();
    const cached = this.cache.get(connectionId);
    if (cached && cached.until > now) return cached.settings;
    const stored = await this.platform.secrets.get(webhookSecretName(connectionId));
    let settings: WebhookSettings | null = null;
    if (stored) {
      const parsed = JSON.parse(stored.value) as unknown;
      // Stored before schemes existed: a bare array of Standard Webhooks secrets.
      settings = Array.isArray(parsed) ? { scheme: DEFAULT_WEBHOOK_SCHEME, options: { secrets: parsed } } : (parsed as WebhookSettings);
    }
    this.cache.set(connectionId, { settings, until: now + this.cacheMs });
    return settings;
  }

  /**
   * Keeps a Notion handshake's token while the connection waits for its first one (no secret yet,
   * at most MAX_NOTION_TOKEN_VERSIONS versions);
   * once a secret is set, handshakes store nothing, so unsigned requests cannot write to the store.
   */
  async recordNotionVerificationToken(tenantId: string, connectionId: string, settings: WebhookSettings, token: string): Promise<void> {
    if (settings.scheme !== 'notion' || secretCountOf(settings) > 0) return;
    const name = notionVerificationTokenName(connectionId);
    if ((await this.platform.secrets.get(name))?.value === token) return;
    // The handshake is unsigned, so anyone can send one: a bounded number of versions, then the
    // store takes no more until the operator sets the secret (and can read which tokens came).
    if ((await this.platform.secrets.listVersions(name)).length >= MAX_NOTION_TOKEN_VERSIONS) {
      this.platform.telemetry.log('warn', 'A Notion verification-token handshake was not stored: the connection has received too many.', { connectionId, kept: MAX_NOTION_TOKEN_VERSIONS });
      return;
    }
    await this.platform.secrets.set(name, token, { contentType: 'text/plain', tags: { tenantId, connectionId, type: 'webhook-notion-verification' } });
  }

  async hasNotionVerificationToken(connectionId: string): Promise<boolean> {
    return (await this.platform.secrets.get(notionVerificationTokenName(connectionId))) !== undefined;
  }

  async count(connectionId: string): Promise<number> {
    const settings = await this.settings(connectionId);
    return settings ? secretCountOf(settings) : 0;
  }
}

/** Versions of a Notion verification token kept while a connection waits for its secret. */
export const MAX_NOTION_TOKEN_VERSIONS = 10;
