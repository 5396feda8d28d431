import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sandboxProvider } from '../../../shared/adapters/providers/sandbox';
import type { Connection } from '../../../shared/core/model';
import { systemClock } from '../../../shared/ports/clock';

/** A REST provider's "no such record": 404 and 410 Gone both read as null; other refusals throw. */
describe('RestAdapter.getRecord against a provider over HTTP', () => {
  it('reads 404 and 410 Gone as no record, and throws on any other refusal', async () => {
    const statuses: Record<string, number> = { missing: 404, gone: 410, forbidden: 403 };
    const server = createServer((req, res) => {
      const id = (req.url ?? '').split('/').pop()!;
      if (id === 'here') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ id: 'here', updated_at: '2026-01-01T00:00:00Z', name: 'Here' }));
        return;
      }
      res.writeHead(statuses[id] ?? 500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'no' }));
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    try {
      const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const adapter = sandboxProvider.create({
        connection: { id: 'c1', tenantId: 't1', provider: 'sandbox', config: { baseUrl } } as unknown as Connection,
        credentials: { type: 'apiKey', apiKey: 'k' },
        clock: systemClock,
      });
      expect(await adapter.getRecord('customers', 'here')).toMatchObject({ externalId: 'here', data: { name: 'Here' } });
      expect(await adapter.getRecord('customers', 'missing')).toBeNull();
      expect(await adapter.getRecord('customers', 'gone')).toBeNull();
      await expect(adapter.getRecord('customers', 'forbidden')).rejects.toMatchObject({ status: 403 });
    } finally {
      server.close();
    }
  });
});
