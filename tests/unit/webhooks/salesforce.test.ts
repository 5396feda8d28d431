import { verifyWebhook } from '../../../shared/webhooks';
import { salesforceSignature } from './support/signers';

const KEY = 'ens-callback-signature-key';
const verify = (headers: Record<string, string>, rawBody: string, secret: unknown = { signatureKeys: [KEY], organizationIds: ['00D5g000004ABCDEAU'] }) =>
  verifyWebhook('salesforce', { secret: secret as string, method: 'POST', url: '/api/webhooks/salesforce/c1', headers, rawBody });

// A Platform Outbound Message as Salesforce sends it (SOAP 1.1, unsigned).
const outbound = (orgId: string) => `<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <soapenv:Body>
  <notifications xmlns="http://soap.sforce.com/2005/09/outbound">
   <OrganizationId>${orgId}</OrganizationId>
   <ActionId>04k5g000000ABCDAA0</ActionId>
   <Notification><Id>04l5g00000ABCDEAA0</Id><sObject xsi:type="sf:Account" xmlns:sf="urn:sobject.enterprise.soap.sforce.com"><sf:Id>0015g00000ABCDEAA0</sf:Id></sObject></Notification>
  </notifications>
 </soapenv:Body>
</soapenv:Envelope>`;

describe('salesforce', () => {
  const ens = JSON.stringify([{ eventCategoryType: 'TransactionalSendEvents.EmailSent', timestampUTC: 1_700_000_000_000, compositeId: 'x' }]);

  it('accepts an ENS notification signed with the callback signature key', async () => {
    await expect(verify({ 'x-sfmc-ens-signature': salesforceSignature(KEY, ens) }, ens)).resolves.toEqual({ valid: true });
  });

  it('reads the signature key as base64 when told to', async () => {
    const keyBytes = Buffer.from('0123456789abcdef0123456789abcdef');
    const signature = salesforceSignature(keyBytes as unknown as string, ens);
    const options = { signatureKeys: [keyBytes.toString('base64')], signatureKeyEncoding: 'base64' };
    await expect(verify({ 'x-sfmc-ens-signature': signature }, ens, options)).resolves.toEqual({ valid: true });
  });

  it('answers the unsigned ENS callback-verification request without accepting it', async () => {
    const body = JSON.stringify({ callbackId: '4ebc1cd4-7a4c-4dc6-a8fa-0fd9ba1b2c1f', verificationKey: 'b3ZpNDRiNkhJcURrMnRJcQ' });
    const result = await verify({}, body);
    expect(result.valid).toBe(false);
    expect(result.handshake).toEqual({ status: 200, headers: {}, body: '' });
  });

  it('accepts an Outbound Message from a configured organization (15- or 18-character id)', async () => {
    await expect(verify({ 'content-type': 'text/xml' }, outbound('00D5g000004ABCDEAU'))).resolves.toEqual({ valid: true });
    await expect(verify({}, outbound('00D5g000004ABCD'))).resolves.toEqual({ valid: true });
  });

  it('rejects an Outbound Message from another organization, or with two organization ids', async () => {
    await expect(verify({}, outbound('00D5g000009ZZZZEAU'))).resolves.toEqual({
      valid: false,
      reason: 'The Outbound Message comes from an organization that is not configured.',
    });
    await expect(verify({}, outbound('00D5g000004ABCDEAU').replace('</OrganizationId>', '</OrganizationId><OrganizationId>00D5g000009ZZZZ</OrganizationId>'))).resolves.toMatchObject({ valid: false });
  });

  it('rejects unsigned JSON when only ENS keys are configured, naming the header', async () => {
    await expect(verify({}, ens, KEY)).resolves.toEqual({ valid: false, reason: 'The x-sfmc-ens-signature header is missing.' });
    await expect(verify({}, outbound('00D5g000004ABCDEAU'), KEY)).resolves.toMatchObject({ valid: false });
  });
});
