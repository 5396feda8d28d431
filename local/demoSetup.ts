import { randomBytes } from 'node:crypto';
import type { Services } from '../shared/composition';
import { SyncBridgeError } from '../shared/core/errors';
import { webhookIntakeFor } from '../shared/core/webhookIntake';
import type { Connection } from '../shared/core/model';

export const DEMO_TENANT_ID = 'demo';
export const DEMO_CONNECTION_ID = 'sandbox-crm';

export interface DemoSetupOptions {
  sandboxUrl: string;
  sandboxApiKey: string;
  /** SYNCBRIDGE_ADMIN_KEY: when set, the demo admin key is this value. */
  adminKey?: string;
}

export interface DemoSetup {
  connection: Connection;
  /** The admin key when it was created now (printed once); undefined when it existed before. */
  newAdminKey?: string;
  adminKeyFromEnv: boolean;
}

/**
 * The demo tenant, its admin key and the `sandbox-crm` connection. Idempotent: a second start
 * finds them and only points the connection at the current sandbox URL.
 */
export async function ensureDemo(services: Services, options: DemoSetupOptions): Promise<DemoSetup> {
  const { platform, tenants, connections } = services;
  await tenants.ensureTenant(DEMO_TENANT_ID, 'Demo tenant');
  let newAdminKey: string | undefined;
  if (options.adminKey) {
    await tenants.issueApiKey(DEMO_TENANT_ID, 'admin', 'SYNCBRIDGE_ADMIN_KEY', options.adminKey);
  } else if ((await platform.tenants.listApiKeys(DEMO_TENANT_ID)).length === 0) {
    newAdminKey = (await tenants.issueApiKey(DEMO_TENANT_ID, 'admin', 'demo admin key')).key;
  }

  let connection = await platform.connections.get(DEMO_CONNECTION_ID);
  if (!connection) {
    connection = await connections.create({
      tenantId: DEMO_TENANT_ID,
      id: DEMO_CONNECTION_ID,
      provider: 'sandbox',
      displayName: 'Sandbox commerce (demo)',
      config: { baseUrl: options.sandboxUrl },
      credentials: { type: 'apiKey', apiKey: options.sandboxApiKey },
    });
  } else if (connection.config.baseUrl !== options.sandboxUrl) {
    connection = await platform.connections.update({ ...connection, config: { ...connection.config, baseUrl: options.sandboxUrl }, updatedAt: platform.clock.now().toISOString() });
  }
  return { connection, newAdminKey, adminKeyFromEnv: Boolean(options.adminKey) };
}

/**
 * Registers the demo connection's webhook with the sandbox, so that a change made there reaches
 * the records API within a second or two without a sync run. The secret is generated once and kept
 * in the secret store (it survives restarts); the sandbox forgets its targets when it restarts, so
 * the target is registered on every start, replacing one left for the same URL.
 */
export async function registerDemoWebhook(services: Services, options: { sandboxUrl: string; hostUrl: string }): Promise<{ url: string }> {
  const intake = webhookIntakeFor(services);
  let secrets = await intake.secrets.get(DEMO_CONNECTION_ID);
  if (!secrets) {
    secrets = [`whsec_${randomBytes(32).toString('base64')}`];
    await intake.setSecrets(DEMO_TENANT_ID, DEMO_CONNECTION_ID, secrets);
  }
  const url = `${options.hostUrl}/api/webhooks/sandbox/${DEMO_CONNECTION_ID}`;
  const control = `${options.sandboxUrl}/_sandbox/webhooks`;
  const listed = await fetch(control);
  if (!listed.ok) throw new SyncBridgeError('configuration', `The sandbox at ${options.sandboxUrl} did not list its webhook targets (${listed.status}).`);
  const { targets } = (await listed.json()) as { targets: Array<{ id: string; url: string }> };
  for (const target of targets.filter((t) => t.url === url)) await fetch(`${control}/${target.id}`, { method: 'DELETE' });
  const registered = await fetch(control, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ url, secrets, initialRetryMs: 500 }),
  });
  // The sandbox's answer never echoes secrets; only its status is reported.
  if (!registered.ok) throw new SyncBridgeError('configuration', `The sandbox refused the demo webhook target (${registered.status}).`);
  await registered.arrayBuffer();
  return { url };
}
