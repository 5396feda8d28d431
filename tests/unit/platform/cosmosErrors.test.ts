import { isSyncBridgeError } from '../../../shared/core/errors';
import { toSyncBridgeError } from '../../../shared/platform/azure/cosmos/cosmosErrors';

/** How Cosmos DB failures reach the domain: the SDK's errors carry `code` (the HTTP status) and `substatus`. */
describe('toSyncBridgeError (Cosmos)', () => {
  it('calls 413 (a request or item too large) validation: the same request can never pass', () => {
    const error = toSyncBridgeError({ code: 413, message: 'Request size is too large' }, 'records.write');
    expect(isSyncBridgeError(error, 'validation')).toBe(true);
    expect(error.message).toContain('Request size is too large');
  });

  it('names a full logical partition (403 substatus 1014) instead of blaming the role assignment', () => {
    const error = toSyncBridgeError({ code: 403, substatus: 1014, message: 'Partition key reached maximum size of 20 GB' }, 'outbox.commit');
    expect(isSyncBridgeError(error, 'configuration')).toBe(false);
    expect(error.message).toMatch(/logical partition is full/);
    expect(error.message).toContain('20 GB');
    expect(error.message).not.toContain('data-contributor');
  });

  it('still reads any other 403 as our identity lacking its role', () => {
    const error = toSyncBridgeError({ code: 403, message: 'Request blocked by Auth' }, 'records.write');
    expect(isSyncBridgeError(error, 'configuration')).toBe(true);
    expect(error.message).toContain('data-contributor');
  });

  it('keeps the service text of an error that is not an Error instance, never "[object Object]"', () => {
    const plain = toSyncBridgeError({ code: 503, message: 'Service is currently unavailable' }, 'records.write');
    expect(isSyncBridgeError(plain, 'transient')).toBe(true);
    expect(plain.message).toBe('records.write: Service is currently unavailable');
    const bodyOnly = toSyncBridgeError({ code: 500, body: { message: 'Internal server error\nActivityId: 1' } }, 'runs.save');
    expect(bodyOnly.message).toBe('runs.save: Internal server error');
    expect(toSyncBridgeError({ code: 500 }, 'runs.save').message).not.toContain('[object Object]');
  });
});
