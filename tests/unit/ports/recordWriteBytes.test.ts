import { recordWriteBytes, type RecordWrite } from '../../../shared/ports/recordStore';

/**
 * recordWriteBytes decides which records are too large for the store and how batches are cut
 * (Cosmos DB: 2 MB per document and per batch). It is an estimate made without serialising the
 * record again, so it must never be below the record's real JSON size, and not far above it.
 */
function record(overrides: Partial<RecordWrite> = {}): RecordWrite {
  const data = { id: 'cus_1', name: 'Ada', notes: 'n'.repeat(1000) };
  return {
    id: 'rec_0123456789abcdef', tenantId: 'acme', connectionId: 'shop', entity: 'customers', externalId: 'cus_1',
    data, dataJson: JSON.stringify(data), hash: 'a'.repeat(64), rawHash: 'b'.repeat(64), version: 3, deleted: false,
    deletedAt: null, firstSeenAt: '2026-11-23T10:00:00.000Z', lastModifiedAt: '2026-11-23T10:00:01.000Z', lastAction: 'updated',
    sourceUpdatedAt: '2026-11-23T09:59:59Z', lastStepId: 'run_1:customers:p3', ...overrides,
  };
}

function realBytes(r: RecordWrite): number {
  const { dataJson: _json, ifRevision: _condition, ...stored } = r;
  return Buffer.byteLength(JSON.stringify(stored), 'utf8');
}

describe('recordWriteBytes', () => {
  const cases: Array<[string, RecordWrite]> = [
    ['a plain pulled record', record()],
    ['no dataJson', record({ dataJson: undefined })],
    ['multi-byte and escaped text in data and ids', record({ externalId: 'ü'.repeat(300) + '\u0001'.repeat(50), data: { t: '漢字'.repeat(500) + '\u0000\n"'.repeat(100) }, dataJson: undefined })],
    ['two-way fields', record({
      base: { name: 'B'.repeat(5000) },
      fieldClock: { name: { timestamp: '2026-11-23T10:00:00.000Z', origin: 'syncbridge' } },
      pendingPush: { outboxId: 'out_1', op: 'update', version: 3, fields: ['name'], queuedAt: '2026-11-23T10:00:00.000Z' } as never,
    })],
    ['a tombstone', record({ deleted: true, deletedAt: '2026-11-23T10:00:02.000Z', data: {}, dataJson: '{}' })],
  ];

  test.each(cases)('is never below the real JSON size, and at most a few KB above it: %s', (_name, r) => {
    const estimate = recordWriteBytes(r);
    const real = realBytes(r);
    expect(estimate).toBeGreaterThanOrEqual(real);
    expect(estimate - real).toBeLessThan(8 * 1024);
  });
});
