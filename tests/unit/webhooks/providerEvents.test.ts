import { providerEventParser } from '../../../shared/webhooks/events';

const parse = (scheme: string, body: unknown, headers: Record<string, string> = {}) =>
  providerEventParser(scheme)!({ headers: new Headers(headers), body: typeof body === 'string' ? body : JSON.stringify(body) });

describe('provider webhook events → record changes', () => {
  it('has a parser for every provider whose entities SyncBridge keeps, and none for custom schemes', () => {
    for (const scheme of ['github', 'stripe', 'shopify', 'slack', 'notion', 'google-pubsub', 'msgraph', 'salesforce']) expect(providerEventParser(scheme)).toBeDefined();
    for (const scheme of ['hmac', 'jwt', 'bearer', 'basic', 'standard-webhooks', 'svix', 'twilio', 'zoom', 'toString', '__proto__']) expect(providerEventParser(scheme)).toBeUndefined();
  });

  it('Salesforce Outbound Message: each Notification sObject of a kept type is an upsert with its fields', () => {
    const soap =
      '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>' +
      '<notifications xmlns="http://soap.sforce.com/2005/09/outbound"><OrganizationId>00D5e000000AbCdEAF</OrganizationId><ActionId>04k5e000000AbCd</ActionId>' +
      '<Notification><Id>04l5e00000A1</Id><sObject xsi:type="sf:Account" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:sf="urn:sobject.enterprise.soap.sforce.com"><sf:Id>0015e00000AbCdE</sf:Id><sf:Name>Acme &amp; Co</sf:Name><sf:LastModifiedDate>2026-11-23T10:00:00.000Z</sf:LastModifiedDate></sObject></Notification>' +
      '<Notification><Id>04l5e00000A2</Id><sObject xsi:type="sf:Case" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:sf="urn:sobject.enterprise.soap.sforce.com"><sf:Id>5005e00000Zz</sf:Id></sObject></Notification>' +
      '</notifications></soapenv:Body></soapenv:Envelope>';
    expect(parse('salesforce', soap)).toEqual({
      changes: [{ entity: 'accounts', externalId: '0015e00000AbCdE', kind: 'upsert', data: { Id: '0015e00000AbCdE', Name: 'Acme & Co', LastModifiedDate: '2026-11-23T10:00:00.000Z' }, updatedAt: '2026-11-23T10:00:00.000Z' }],
    });
    expect(parse('salesforce', '<not-xml')).toHaveProperty('ignored');
    expect(parse('salesforce', '<a><b/></a>')).toEqual({ ignored: 'Not a Salesforce Outbound Message.' });
  });

  it('Google Calendar via Pub/Sub: an event resource is stored, a cancelled one removed, an id alone fetched', () => {
    const push = (data: unknown, attributes: Record<string, string> = {}) => ({ message: { data: Buffer.from(JSON.stringify(data)).toString('base64'), attributes, messageId: '2070443601311540' }, subscription: 'projects/p/subscriptions/s' });
    expect(parse('google-pubsub', push({ kind: 'calendar#event', id: 'evt1', status: 'confirmed', summary: 'Standup', updated: '2026-11-23T09:00:00.000Z' }))).toEqual({
      changes: [{ entity: 'events', externalId: 'evt1', kind: 'upsert', data: expect.objectContaining({ summary: 'Standup' }), updatedAt: '2026-11-23T09:00:00.000Z' }],
    });
    expect(parse('google-pubsub', push({ kind: 'calendar#event', id: 'evt1', status: 'cancelled' }))).toEqual({ changes: [{ entity: 'events', externalId: 'evt1', kind: 'delete', updatedAt: null }] });
    expect(parse('google-pubsub', push({}, { eventId: 'evt2' }))).toEqual({ changes: [{ entity: 'events', externalId: 'evt2', kind: 'fetch' }] });
    expect(parse('google-pubsub', push({ hello: 'world' }))).toHaveProperty('ignored');
  });

  it('Microsoft Graph: deletions of calendar events are removals, other changes fetches, other resources ignored', () => {
    const n = (changeType: string, resource: string, id?: string) => ({ subscriptionId: 's', changeType, resource, ...(id ? { resourceData: { id } } : {}) });
    expect(parse('msgraph', { value: [n('deleted', 'Users/u1/Events/AAA', 'AAA'), n('created', 'Users/u1/Events/BBB'), n('updated', 'Users/u1/Messages/CCC', 'CCC')] })).toEqual({
      changes: [{ entity: 'events', externalId: 'AAA', kind: 'delete', updatedAt: null }, { entity: 'events', externalId: 'BBB', kind: 'fetch' }],
    });
    expect(parse('msgraph', { value: [n('updated', 'Users/u1/Messages/CCC', 'CCC')] })).toHaveProperty('ignored');
  });

  it('ignores what is not a record event, with the reason', () => {
    expect(parse('stripe', { id: 'evt_1', type: 'charge.succeeded', data: { object: { id: 'ch_1' } } })).toEqual({ ignored: expect.stringContaining('charge.succeeded') });
    expect(parse('shopify', { id: 1 }, { 'x-shopify-topic': 'carts/update' })).toEqual({ ignored: expect.stringContaining('carts/update') });
    expect(parse('slack', { type: 'event_callback', event: { type: 'reaction_added' } })).toEqual({ ignored: expect.stringContaining('reaction_added') });
    expect(parse('notion', { type: 'database.created', entity: { id: 'd1' } })).toEqual({ ignored: expect.stringContaining('database.created') });
    expect(parse('github', 'not json', { 'x-github-event': 'issues' })).toEqual({ ignored: 'The body is not a JSON object.' });
  });
});
