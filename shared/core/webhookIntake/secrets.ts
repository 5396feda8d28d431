import type { Platform } from '../../ports/platform';
import { checkWebhookOptions } from '../../webhooks/verifyWebhook';
import { SyncBridgeError } from '../errors';

/** Standard Webhooks allows several signatures per delivery; the sandbox takes up to 5 secrets. */
export const MAX_WEBHOOK_SECRETS = 5;

export function webhookSecretName(connectionId: string): string {
  return `connection-${connectionId}-webhook-secrets`;
}

/**
 * A connection's active webhook secrets, kept in the secret store as one JSON array (a new version
 * per rotation). Reads are cached briefly because every delivery needs them: a rotation made
 * through this object is seen at once; one made by another instance within `cacheMs`.
 */
export class WebhookSecrets {
  private readonly cache = new Map<string, { secrets: string[] | null; until: number }>();

  constructor(private readonly platform: Platform, private readonly cacheMs = 1000) {}

  /** Replaces the active set (rotation: send the new secret beside the old one, later drop the old). */
  async set(tenantId: string, connectionId: string, secrets: readonly string[]): Promise<void> {
    if (!Array.isArray(secrets) || secrets.length === 0 || secrets.length > MAX_WEBHOOK_SECRETS) {
      throw new SyncBridgeError('validation', `webhook.secrets must hold 1 to ${MAX_WEBHOOK_SECRETS} secrets.`);
    }
    for (const secret of secrets) {
      if (typeof secret !== 'string' || !secret.startsWith('whsec_')) throw new SyncBridgeError('validation', 'webhook.secrets: every secret must be a whsec_<base64> string.');
    }
    try {
      checkWebhookOptions('standard-webhooks', { secrets: [...secrets] });
    } catch {
      // The checker's message is safe, but ours must not depend on that: name the field only.
      throw new SyncBridgeError('validation', 'webhook.secrets: every secret must be whsec_ followed by base64.');
    }
    await this.platform.secrets.set(webhookSecretName(connectionId), JSON.stringify(secrets), {
      contentType: 'application/json',
      tags: { tenantId, connectionId, type: 'webhook' },
    });
    this.cache.delete(connectionId);
  }

  /** The active secrets, or null when the connection takes no webhooks. */
  async get(connectionId: string): Promise<string[] | null> {
    const now = Date.now();
    const cached = this.cache.get(connectionId);
    if (cached && cached.until > now) return cached.secrets;
    const stored = await this.platform.secrets.get(webhookSecretName(connectionId));
    const secrets = stored ? (JSON.parse(stored.value) as string[]) : null;
    this.cache.set(connectionId, { secrets, until: now + this.cacheMs });
    return secrets;
  }

  async count(connectionId: string): Promise<number> {
    return (await this.get(connectionId))?.length ?? 0;
  }
}
