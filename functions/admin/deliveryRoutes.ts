import { z } from 'zod';
import { requireRole } from '../../shared/core/tenantService';
import { webhookIntakeFor, type WebhookStatus } from '../../shared/core/webhookIntake';
import type { Delivery } from '../../shared/ports/deliveryStore';
import type { Telemetry } from '../../shared/ports/telemetry';
import { json } from '../http/responses';
import { parseWith, readJsonBody } from '../http/validation';
import type { AdminRoute } from './router';
import { maskStoredErrorText } from './storedErrorText';

const listSchema = z.object({
  cursor: z.string().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});

/** Secrets alone keep the sandbox's scheme; otherwise a scheme with secrets and/or its options object. */
const webhookSchema = z.object({
  scheme: z.string().min(1).optional(),
  secrets: z.array(z.string().min(1)).max(5).optional(),
  options: z.record(z.string(), z.unknown()).optional(),
});

/**
 * The log entry as the API shows it: no body (it can be a megabyte; replay uses it server-side),
 * nor the broker's number of the message that settled it (the applier's own bookkeeping), and its
 * detail masked again (storedErrorText.ts: an earlier release may have stored a credential).
 */
function toDeliveryView(delivery: Delivery, telemetry: Telemetry) {
  const { body: _body, settledBy: _settledBy, ...view } = delivery;
  return { ...view, detail: maskStoredErrorText(view.detail, telemetry), eventType: view.eventType ?? null };
}

/** The webhook settings and health as the API shows them: health's last error masked again, as a delivery's detail. */
function toWebhookStatusView(status: WebhookStatus, telemetry: Telemetry) {
  return { ...status, health: { ...status.health, lastError: maskStoredErrorText(status.health.lastError, telemetry) } };
}

export const deliveryRoutes: AdminRoute[] = [
  {
    method: 'GET',
    path: 'connections/{id}/deliveries',
    async handle({ request, params, principal, services }) {
      const query = parseWith(listSchema, Object.fromEntries(request.query.entries()), 'query');
      const page = await webhookIntakeFor(services).list(principal.tenantId, params.id, query.cursor, query.limit);
      return json(200, { deliveries: page.deliveries.map((delivery) => toDeliveryView(delivery, services.platform.telemetry)), nextCursor: page.nextCursor });
    },
  },
  {
    method: 'POST',
    path: 'deliveries/{id}/replay',
    async handle({ params, principal, services }) {
      requireRole(principal, 'admin');
      return json(202, await webhookIntakeFor(services).replay(principal.tenantId, params.id));
    },
  },
  {
    // The webhook settings: which secrets are active (never their values) and the health counters.
    method: 'GET',
    path: 'connections/{id}/webhook',
    async handle({ params, principal, services }) {
      return json(200, toWebhookStatusView(await webhookIntakeFor(services).status(principal.tenantId, params.id), services.platform.telemetry));
    },
  },
  {
    // Sets the scheme or rotates the secrets: send [new, old] while the provider switches, then [new].
    method: 'PUT',
    path: 'connections/{id}/webhook',
    async handle({ request, params, principal, services }) {
      requireRole(principal, 'admin');
      const body = parseWith(webhookSchema, await readJsonBody(request), 'body');
      const intake = webhookIntakeFor(services);
      await intake.setWebhook(principal.tenantId, params.id, body);
      return json(200, toWebhookStatusView(await intake.status(principal.tenantId, params.id), services.platform.telemetry));
    },
  },
];
