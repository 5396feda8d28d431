import { SyncBridgeError } from '../../../shared/core/errors';
import { prepareWebhookVerification, verifyWebhook } from '../../../shared/webhooks/verifyWebhook';
import { fixtures, NOW } from './support/fixtures';

/**
 * prepareWebhookVerification: the options parsed once, then any number of deliveries verified with
 * them, each with exactly verifyWebhook's answer (the webhook receiver keeps one per settings
 * document). Every scheme's fixture, signed with the first of two active secrets.
 */
describe('prepareWebhookVerification', () => {
  const body = Buffer.from('{"id":"evt_1","type":"customers.updated","data":{}}');

  for (const fixture of fixtures) {
    test(`${fixture.scheme}: prepared once, it answers each delivery as verifyWebhook does`, async () => {
      const secret = fixture.options(fixture.secrets) as never;
      const prepared = prepareWebhookVerification(fixture.scheme, secret);
      const signed = fixture.sign(fixture.secrets[0], body, NOW);
      const input = { method: signed.method, url: signed.url, headers: signed.headers, rawBody: body, now: NOW };
      const tampered = { ...input, rawBody: Buffer.from(`${body.toString('utf8')} `) };
      for (const request of [input, tampered, input]) {
        expect(await prepared.verify(request)).toEqual(await verifyWebhook(fixture.scheme, { ...request, secret }));
      }
      expect((await prepared.verify(input)).valid).toBe(true);
      if (fixture.coversBody) expect((await prepared.verify(tampered)).valid).toBe(false);
    });
  }

  test('options that do not fit the scheme are refused when prepared, before any delivery', () => {
    expect(() => prepareWebhookVerification('standard-webhooks', { secrets: ['not base64 !'] } as never)).toThrow(SyncBridgeError);
  });

  test('a "now" in milliseconds is refused at verify, as verifyWebhook refuses it', async () => {
    const fixture = fixtures.find((f) => f.scheme === 'standard-webhooks')!;
    const prepared = prepareWebhookVerification('standard-webhooks', fixture.options(fixture.secrets) as never);
    const signed = fixture.sign(fixture.secrets[0], body, NOW);
    await expect(prepared.verify({ method: 'POST', url: signed.url, headers: signed.headers, rawBody: body, now: NOW * 1000 })).rejects.toMatchObject({ code: 'configuration' });
  });
});
