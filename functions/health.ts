import type { HttpResponseInit } from '@azure/functions';
import type { FunctionDefinition } from './definition';
import { json } from './http/responses';
import { getServices } from './services';

/** Liveness and dependency checks; no key needed, no tenant data returned. */
export async function healthHandler(): Promise<HttpResponseInit> {
  const { platform } = await getServices();
  let checks: Record<string, { ok: boolean; detail?: string }>;
  try {
    checks = await platform.checkHealth();
  } catch (error) {
    checks = { platform: { ok: false, detail: (error as Error).message } };
  }
  const ok = Object.values(checks).every((c) => c.ok);
  return json(ok ? 200 : 503, { status: ok ? 'ok' : 'degraded', platform: platform.name, checks, time: platform.clock.now().toISOString() });
}

export const health: FunctionDefinition = {
  kind: 'http',
  name: 'health',
  options: { route: 'health', methods: ['GET'], authLevel: 'anonymous', handler: healthHandler },
};
