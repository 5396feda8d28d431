import type { Services } from '../../composition';
import type { DeliveryPage, WebhookHealth } from '../../ports/deliveryStore';
import { SyncBridgeError } from '../errors';
import { WebhookApplier } from './applier';
import { enqueueAgain } from './enqueueAgain';
import { WebhookReceiver, type ReceiverOptions } from './receiver';
import { WebhookSecrets, secretCountOf, type WebhookSettingsInput } from './secrets';

export { deliveryIdFor, type IncomingWebhook, type ReceiveResult } from './receiver';
export { notionVerificationTokenName, webhookSecretName, type WebhookSettingsInput } from './secrets';

export interface WebhookStatus {
  configured: boolean;
  scheme: string | null;
  secretCount: number;
  /** Notion, before its first secret: whether a handshake's token waits in the secret store. */
  notionVerificationTokenReceived?: boolean;
  health: WebhookHealth;
}

/** Webhook intake for one set of services: receive, apply, replay, and the operator's views. */
export class WebhookIntake {
  readonly secrets: WebhookSecrets;
  readonly receiver: WebhookReceiver;
  readonly applier: WebhookApplier;

  constructor(private readonly services: Services, options: ReceiverOptions = receiverOptionsFromEnv(process.env)) {
    this.secrets = new WebhookSecrets(services.platform);
    this.receiver = new WebhookReceiver(services.platform, this.secrets, options);
    this.applier = new WebhookApplier(services.platform, services.adapters, services.customRules, services.engine.retry, services.engine.random);
  }

  /** The sandbox's scheme with these secrets (local/demoSetup.ts, bench/webhookIngest.ts). */
  async setSecrets(tenantId: string, connectionId: string, secrets: readonly string[]): Promise<void> {
    await this.setWebhook(tenantId, connectionId, { secrets: [...secrets] });
  }

  /** Sets or rotates the scheme and its options (validated; stored in the secret store only). */
  async setWebhook(tenantId: string, connectionId: string, input: WebhookSettingsInput): Promise<void> {
    await this.services.connections.getForTenant(tenantId, connectionId);
    await this.secrets.set(tenantId, connectionId, input);
  }

  /** The settings as the API may show them: the scheme and how many secrets, never their values. */
  async status(tenantId: string, connectionId: string): Promise<WebhookStatus> {
    await this.services.connections.getForTenant(tenantId, connectionId);
    const settings = await this.secrets.settings(connectionId);
    const secretCount = settings ? secretCountOf(settings) : 0;
    return {
      configured: settings !== null,
      scheme: settings?.scheme ?? null,
      secretCount,
      ...(settings?.scheme === 'notion' && secretCount === 0
        ? { notionVerificationTokenReceived: await this.secrets.hasNotionVerificationToken(connectionId) }
        : {}),
      health: await this.services.platform.deliveries.health(connectionId),
    };
  }

  async list(tenantId: string, connectionId: string, cursor: string | undefined, limit: number): Promise<DeliveryPage> {
    await this.services.connections.getForTenant(tenantId, connectionId);
    return this.services.platform.deliveries.list({ tenantId, connectionId, cursor, limit });
  }

  /**
   * Sends a stored delivery through the worker again, under a new message id. When the queue
   * refuses the message, the delivery's status and detail are put back as they were and this
   * fails with `transient` (503): a delivery is never left `received` without a message, and
   * replaying again is safe, as each replay's message has a new id (the replay count stays up).
   */
  async replay(tenantId: string, deliveryId: string): Promise<{ deliveryId: string; replay: number }> {
    const { platform } = this.services;
    const delivery = await platform.deliveries.get(deliveryId);
    if (!delivery || delivery.tenantId !== tenantId) throw new SyncBridgeError('not_found', `Delivery ${deliveryId} does not exist.`);
    const replay = await enqueueAgain(platform, delivery);
    if (replay === 'refused') {
      throw new SyncBridgeError('transient', `Delivery ${delivery.id} could not be replayed: the queue did not accept it. It is ${delivery.status} as before; replay it again.`, { forCaller: true });
    }
    return { deliveryId: delivery.id, replay };
  }
}

export function receiverOptionsFromEnv(env: NodeJS.ProcessEnv): ReceiverOptions {
  const number = (name: string): number | undefined => {
    const raw = env[name];
    if (raw === undefined || raw === '') return undefined;
    const value = Number(raw);
    if (!(value > 0)) throw new SyncBridgeError('configuration', `${name} must be a positive number; got '${raw}'.`);
    return value;
  };
  const publicBaseUrl = env.SYNCBRIDGE_PUBLIC_BASE_URL || undefined;
  if (publicBaseUrl !== undefined && !/^https?:\/\/[^/]+/.test(publicBaseUrl)) {
    throw new SyncBridgeError('configuration', 'SYNCBRIDGE_PUBLIC_BASE_URL must be an absolute http(s) URL.');
  }
  return {
    maxBodyBytes: number('SYNCBRIDGE_WEBHOOK_MAX_BODY_BYTES'),
    toleranceSeconds: number('SYNCBRIDGE_WEBHOOK_TOLERANCE_SECONDS'),
    publicBaseUrl,
  };
}

const byServices = new WeakMap<Services, WebhookIntake>();

/** One intake per services object (its secret cache is per process, like the services). */
export function webhookIntakeFor(services: Services): WebhookIntake {
  let intake = byServices.get(services);
  if (!intake) {
    intake = new WebhookIntake(services);
    byServices.set(services, intake);
  }
  return intake;
}
