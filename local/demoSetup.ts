import type { Services } from '../shared/composition';
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
