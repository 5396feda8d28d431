import { createHash } from 'node:crypto';
import { canonicalJson, contentHash, contentHashFromJsonHash } from '../../../shared/core/hash';
import { recordId } from '../../../shared/core/ids';
import { inboundMessageId, parseInboundMessage, parseInboundQueueMessage } from '../../../shared/core/runs/inboundMessage';
import { deliveryIdFor, orderedDeliveryIdFor } from '../../../shared/core/webhookIntake/receiver';

describe('content hash and ids', () => {
  test('the hash ignores key order at every level and sees every value', () => {
    expect(contentHash({ a: 1, b: { c: [1, { d: 2, e: 3 }] } })).toBe(contentHash({ b: { c: [1, { e: 3, d: 2 }] }, a: 1 }));
    expect(contentHash({ a: 1 })).not.toBe(contentHash({ a: '1' }));
    expect(canonicalJson({ b: undefined, a: null })).toBe('{"a":null}');
  });

  test('the content hash from the raw JSON\'s hash is the content hash: the raw hash itself for data already in canonical order, else the canonical one', () => {
    const sha = (text: string) => createHash('sha256').update(text).digest('hex');
    const canonicalAlready = [
      { id: 'cus_1', name: 'A', notes: 'x', updated_at: '2026-06-01T00:00:00Z' },
      { a: [1, { b: 2, c: [{ d: null }] }], e: 'é\u2028"' },
      {},
      JSON.parse('{"__proto__":{"x":1},"z":1}'),
    ];
    const notCanonical = [
      { name: 'A', id: 'cus_1' },
      { a: [1, { c: 2, b: 3 }] },
      { a: { z: 1, y: 2 } },
      JSON.parse('{"10":"y","2":"x"}'),
      { a: 1, b: undefined },
      JSON.parse('{"z":1,"__proto__":{"x":1}}'),
    ];
    for (const data of [...canonicalAlready, ...notCanonical]) {
      expect(contentHashFromJsonHash(data, sha(JSON.stringify(data)))).toBe(contentHash(data));
    }
    // The shortcut is taken exactly where the raw JSON is the canonical JSON.
    for (const data of canonicalAlready) expect(contentHashFromJsonHash(data, 'given')).toBe('given');
    for (const data of notCanonical) expect(contentHashFromJsonHash(data, 'given')).toBe(contentHash(data));
  });

  test('an own "__proto__" member is part of the content: records that differ only there hash differently', () => {
    // JSON.parse makes "__proto__" an ordinary own key; providers and API callers can send one.
    const one = JSON.parse('{"a":{"z":1,"__proto__":{"x":1}}}');
    const two = JSON.parse('{"a":{"z":1,"__proto__":{"x":2}}}');
    expect(canonicalJson(one)).toBe('{"a":{"__proto__":{"x":1},"z":1}}');
    expect(contentHash(one)).not.toBe(contentHash(two));
  });

  test('data nested past the limit is a validation error, not a stack overflow', () => {
    const nested = (depth: number) => JSON.parse(`{"n":${'['.repeat(depth)}${']'.repeat(depth)}}`);
    expect(() => contentHash(nested(6000))).toThrow(expect.objectContaining({ code: 'validation', message: expect.stringMatching(/nests deeper than 1000 levels/) }));
    expect(canonicalJson(nested(999))).toBe(`{"n":${'['.repeat(999)}${']'.repeat(999)}}`);
  });

  test('a delivery id is fixed by its connection and the provider\'s delivery id, the same as ever stored', () => {
    // Pinned: a delivery logged before an upgrade must be found under the same id after it, or its
    // retry would be a new delivery.
    expect(deliveryIdFor('shop', 'msg_2Hq4')).toBe('dlv_k9oN_CmOpAn__DWnA37kC-Y-');
    expect(deliveryIdFor('shop', 'msg_2Hq4')).not.toBe(deliveryIdFor('shop2', 'msg_2Hq4'));
  });

  test('an ordered delivery id starts with its receipt time, so ids sort as their receipts do', () => {
    const at = Date.parse('2026-11-24T16:00:00.000Z');
    const id = orderedDeliveryIdFor('shop', 'msg_2Hq4', at);
    // Pinned: dlv_, nine base-36 digits of the time, the first 16 characters of deliveryIdFor's hash.
    expect(id).toBe(`dlv_0${at.toString(36)}k9oN_CmOpAn__DWn`);
    expect(id).toMatch(/^dlv_[0-9a-z]{9}[A-Za-z0-9_-]{16}$/);
    expect(orderedDeliveryIdFor('shop', 'msg_2Hq4', at)).toBe(id);
    expect(orderedDeliveryIdFor('shop2', 'msg_2Hq4', at)).not.toBe(id);
    expect(orderedDeliveryIdFor('shop', 'msg_2Hq5', at)).not.toBe(id);
    // String order is time order, across a change in the number of digits the time needs, and the
    // same delivery received again later gets a later id.
    const times = [0, 35, 36, 1_000, at - 1, at, at + 1, 36 ** 8, 36 ** 9 - 1];
    const ids = times.map((t, i) => orderedDeliveryIdFor('shop', `msg_${times.length - i}`, t));
    expect([...ids].sort()).toEqual(ids);
    expect(orderedDeliveryIdFor('shop', 'msg_2Hq4', at + 1) > id).toBe(true);
  });

  test('record ids are deterministic and do not collide when parts shift', () => {
    expect(recordId('t', 'c', 'e', 'x')).toBe(recordId('t', 'c', 'e', 'x'));
    expect(recordId('t', 'c', 'e:x', 'y')).not.toBe(recordId('t', 'c', 'e', 'x:y'));
    expect(recordId('t1', 'c', 'e', 'x')).not.toBe(recordId('t2', 'c', 'e', 'x'));
  });

  test('step message ids say what the step is, and retries get their own', () => {
    const page = { kind: 'page' as const, runId: 'run_1', entity: 'orders', page: 3, attempt: 0, waits: 0 };
    expect(inboundMessageId(page)).toBe('run_1:orders:3');
    expect(inboundMessageId({ ...page, attempt: 2 })).toBe('run_1:orders:3:a2');
    expect(inboundMessageId({ ...page, waits: 1, resume: 2 })).toBe('run_1:orders:3:r2:w1');
    expect(inboundMessageId({ kind: 'finalize', runId: 'run_1', attempt: 0 })).toBe('run_1:finalize');
  });

  test('malformed queue messages are refused, not guessed at', () => {
    expect(parseInboundMessage(JSON.stringify({ kind: 'page', runId: 'r', entity: 'e', page: 1, attempt: 0, waits: 0 }))).toMatchObject({ page: 1 });
    for (const bad of [null, {}, { kind: 'page', runId: 'r', entity: 'e', page: 0, attempt: 0, waits: 0 }, { kind: 'other', runId: 'r', attempt: 0 }]) {
      expect(() => parseInboundMessage(bad)).toThrow(/not a sync step/);
    }
  });

  test('a held sweep survives the queue body round trip, with nothing but its connection; one without it is refused', () => {
    expect(parseInboundQueueMessage(JSON.stringify({ kind: 'held-sweep', connectionId: 'shop', extra: 1 }))).toEqual({ kind: 'held-sweep', connectionId: 'shop' });
    expect(() => parseInboundQueueMessage({ kind: 'held-sweep' })).toThrow(/not a held sweep/);
  });
});
