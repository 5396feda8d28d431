import type { HttpResponseInit } from '@azure/functions';
import type { FunctionDefinition } from './definition';
import type { DependencyCheck } from '../shared/ports/platform';
import { json } from './http/responses';
import { getServices } from './services';

/**
 * Liveness and dependency checks; no key needed, no tenant data returned. The answer is
 * `checks: { database, queue }` with each `ok`, `failing` or `unchecked` and nothing else: no
 * database or queue names, no service error text (an anonymous caller learns only that something
 * is down). What failed and why goes to telemetry.
 */
export async function healthHandler(): Promise<HttpResponseInit> {
  const { platform } = await getServices();
  let checks: Record<string, DependencyCheck>;
  try {
    checks = await platform.checkHealth();
  } catch (error) {
    checks = { platform: { state: 'failing', detail: (error as Error).message } };
  }
  const failing = Object.entries(checks).filter(([, check]) => check.state === 'failing');
  for (const [name, check] of failing) {
    platform.telemetry.log('warn', `Health check ${name} is failing: ${check.detail ?? 'no detail'}`, { check: name });
  }
  const ok = failing.length === 0;
  const states = Object.fromEntries(Object.entries(checks).map(([name, check]) => [name, check.state]));
  return json(ok ? 200 : 503, { status: ok ? 'ok' : 'degraded', platform: platform.name, checks: states, time: platform.clock.now().toISOString() });
}

export const health: FunctionDefinition = {
  kind: 'http',
  name: 'health',
  options: { route: 'health', methods: ['GET'], authLevel: 'anonymous', handler: healthHandler },
};
