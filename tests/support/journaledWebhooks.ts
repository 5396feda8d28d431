import { decodeJournalFrame } from '../../shared/platform/local/journalIntake';
import { readCheckpoint, JournalReader } from '../../shared/platform/local/webhookJournal';
import { standardWebhookSignature } from './signedWebhook';

/**
 * POSTs `event` to a sandbox connection's webhook route under the given provider delivery id
 * (`webhook-id`), signed with `secret`: sending the same id twice is a provider's retry.
 */
export async function postWebhookAs(hostUrl: string, connectionId: string, secret: string, webhookId: string, event: unknown): Promise<{ status: number; body: any }> {
  const body = JSON.stringify(event);
  const timestamp = Math.floor(Date.now() / 1000);
  const response = await fetch(`${hostUrl}/api/webhooks/sandbox/${connectionId}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'webhook-id': webhookId,
      'webhook-timestamp': String(timestamp),
      'webhook-signature': standardWebhookSignature(secret, webhookId, timestamp, body),
    },
    body,
  });
  return { status: response.status, body: await response.json().catch(() => undefined) };
}

/** A sandbox `customers.updated` event that carries its record (the worker applies it without calling the provider). */
export function customerEvent(externalId: string, name = `Customer ${externalId}`): unknown {
  return { type: 'customers.updated', data: { entity: 'customers', record: { id: externalId, name, updated_at: '2027-05-01T10:00:00Z' } } };
}

/**
 * The webhook journal's frames after the drain's checkpoint (journaled, not drained yet), read
 * from the folder as a restart would read it; their claim keys.
 */
export function undrainedJournalKeys(journalDir: string): string[] {
  const reader = new JournalReader(journalDir);
  try {
    const keys: string[] = [];
    let position = readCheckpoint(journalDir);
    for (;;) {
      const { frames, next } = reader.read(position, 4096);
      // Deliveries only, not the frames that count refused deliveries.
      for (const frame of frames) {
        const content = decodeJournalFrame(frame.payload);
        if (content?.kind === 'delivery') keys.push(content.entry.claimKey);
      }
      if (frames.length === 0 && next.segment === position.segment && next.offset === position.offset) return keys;
      position = next;
    }
  } finally {
    reader.close();
  }
}
