import { createHmac } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { postRequest, RawHttpClient } from '../../../bench/rawHttpClient';

/**
 * The bench's second ceiling must do the work it stands for, or its figures mean nothing: every
 * verified delivery stored once and applied, a repeated one not twice, a bad signature refused.
 * The compiled module is used because its writer threads load it as JavaScript (`npm test` builds first).
 */
const COMPILED = resolve(__dirname, '../../../dist/bench/minimalDurableReceiver.js');
const KEY = Buffer.alloc(32, 7);

function signed(connection: string, id: string, recordId: string): Buffer {
  const timestamp = Math.floor(Date.now() / 1000);
  const body = JSON.stringify({ id, type: 'customers.updated', data: { entity: 'customers', record: { id: recordId, name: id } } });
  const signature = createHmac('sha256', KEY).update(`${id}.${timestamp}.${body}`).digest('base64');
  return postRequest(`/api/webhooks/sandbox/${connection}`, { 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': String(timestamp), 'webhook-signature': `v1,${signature}` }, body);
}

type Model = Pick<import('../../../bench/minimalDurableReceiver').MinimalReceiverOptions, 'writerThreads' | 'journal'>;

describe.each<[string, Model]>([
  ['SQLite on the HTTP thread', {}],
  ['SQLite on 2 writer threads', { writerThreads: 2 }],
  ['journal first, 2 appliers', { journal: { appliers: 2, backlog: 500 } }],
  // Every answer waits for the appliers: nothing may be left hanging.
  ['journal first, 1 applier, backlog 1', { journal: { appliers: 1, backlog: 1 } }],
])('minimal durable receiver, %s', (_name, model) => {
  it('stores and applies every verified delivery, and refuses a bad signature', async () => {
    if (!existsSync(COMPILED)) throw new Error(`${COMPILED} is missing: run "npm run build" first (npm test does).`);
    const { startMinimalDurableReceiver } = require(COMPILED) as typeof import('../../../bench/minimalDurableReceiver');
    const dataDir = mkdtempSync(join(tmpdir(), 'minimal-receiver-test-'));
    const receiver = await startMinimalDurableReceiver({ dataDir, key: KEY, apply: true, ...model });
    const clients = ['c0', 'c1', 'c2', 'c3'].map((connection) => ({ connection, client: new RawHttpClient(receiver.port) }));
    try {
      const statuses = await Promise.all(clients.map(async ({ connection, client }) => {
        const seen: number[] = [];
        for (let n = 0; n < 5; n += 1) seen.push(await client.send(signed(connection, `msg_${connection}_${n}`, `cus_${connection}_${n}`)));
        seen.push(await client.send(signed(connection, `msg_${connection}_0`, `cus_${connection}_0`))); // a repeat is acknowledged (its record is the same one)
        return seen;
      }));
      expect(statuses.flat().every((s) => s === 202)).toBe(true);
      const bad = signed('c0', 'msg_bad', 'cus_bad');
      expect(await clients[0].client.send(Buffer.from(bad.toString('latin1').replace(/v1,[^\r]*/, 'v1,AAAA'), 'latin1'))).toBe(401);
      let stored: number[] = [];
      for (let i = 0; i < 50 && stored.length < 20; i += 1) {
        stored = await receiver.receiptToStored();
        if (stored.length < 20) await new Promise((r) => setTimeout(r, 20));
      }
      expect(stored).toHaveLength(20);
      expect(stored.every((ms) => ms >= 0)).toBe(true);
      if (model.journal) {
        // The journal is the queue: each accepted delivery in it once, the repeats and the refused one not at all.
        const journaled = readFileSync(join(dataDir, 'intake.journal'), 'utf8').trim().split('\n').map((line) => (JSON.parse(line) as { claimKey: string }).claimKey);
        expect(journaled.sort()).toEqual(clients.flatMap(({ connection }) => [0, 1, 2, 3, 4].map((n) => `webhook:${connection}:msg_${connection}_${n}`)).sort());
      }
    } finally {
      clients.forEach(({ client }) => client.close());
      receiver.close();
      await new Promise((r) => setTimeout(r, 100));
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
