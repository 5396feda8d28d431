import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { Harness } from '../support/harness';

/**
 * Real providers' webhook events through the real receiver: signed as each provider signs, posted
 * to a connection of that provider, and turned into records (or tombstones) of its entities; events
 * that name no record state, or no record SyncBridge keeps, are acknowledged and logged as ignored.
 */
const hmac = (alg: string, key: string, data: string, enc: 'hex' | 'base64') => createHmac(alg, key).update(data).digest(enc);
const secret = () => randomBytes(18).toString('base64url');
const json = (value: unknown) => JSON.stringify(value);

describe('provider webhook events become records', () => {
  let h: Harness;
  const secrets = new Map<string, string>();

  beforeAll(async () => {
    h = await Harness.start({ sandbox: { recordsPerEntity: 2 } });
    for (const [provider, settings] of [
      ['github', (s: string) => ({ scheme: 'github', secrets: [s] })],
      ['stripe', (s: string) => ({ scheme: 'stripe', secrets: [`whsec_${s}`] })],
      ['shopify', (s: string) => ({ scheme: 'shopify', secrets: [s] })],
      ['slack', (s: string) => ({ scheme: 'slack', secrets: [s] })],
      ['notion', (s: string) => ({ scheme: 'notion', secrets: [s] })],
      ['msgraph', (s: string) => ({ scheme: 'msgraph', options: { clientStates: [s] } })],
    ] as const) {
      const created = await h.api('POST', '/api/connections', { id: `ev-${provider}`, provider, config: {}, credentials: { type: 'none' } });
      expect(created.status).toBe(201);
      expect(created.body.schedule?.enabled ?? created.body.connection?.schedule?.enabled).toBe(false);
      const s = secret();
      secrets.set(provider, provider === 'stripe' ? `whsec_${s}` : s);
      expect((await h.api('PUT', `/api/connections/ev-${provider}/webhook`, settings(s))).status).toBe(200);
    }
  }, 60_000);
  afterAll(async () => h?.close());

  async function post(provider: string, headers: Record<string, string>, body: string): Promise<number> {
    const response = await fetch(`${h.hostUrl}/api/webhooks/${provider}/ev-${provider}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
    await response.text();
    return response.status;
  }

  const record = (provider: string, entity: string, id: string) =>
    h.waitFor(`${provider} ${entity} ${id}`, async () => {
      const r = await h.api('GET', `/api/connections/ev-${provider}/records?entity=${entity}&limit=100`);
      return r.body.records?.find((x: any) => x.externalId === id);
    });

  async function lastDelivery(provider: string): Promise<any> {
    return h.waitFor(`a settled ${provider} delivery`, async () => {
      const d = (await h.api('GET', `/api/connections/ev-${provider}/deliveries?limit=1`)).body.deliveries?.[0];
      return d && d.status !== 'received' ? d : undefined;
    });
  }

  it('GitHub: an issue is stored, then tombstoned when deleted; a push event is ignored', async () => {
    const send = (event: string, payload: unknown) => {
      const body = json(payload);
      return post('github', { 'x-github-event': event, 'x-github-delivery': randomUUID(), 'x-hub-signature-256': `sha256=${hmac('sha256', secrets.get('github')!, body, 'hex')}` }, body);
    };
    const issue = { id: 1347, number: 7, title: 'Found a bug', state: 'open', updated_at: '2026-11-23T10:00:00Z' };
    expect(await send('issues', { action: 'opened', issue, repository: { id: 1 } })).toBe(202);
    expect((await record('github', 'issues', '1347')).data).toMatchObject({ title: 'Found a bug', number: 7 });
    expect(await send('pull_request', { action: 'opened', pull_request: { id: 99, title: 'Fix', updated_at: '2026-11-23T10:01:00Z' } })).toBe(202);
    expect((await record('github', 'pull_requests', '99')).data.title).toBe('Fix');
    expect(await send('issues', { action: 'deleted', issue: { ...issue, updated_at: '2026-11-23T11:00:00Z' } })).toBe(202);
    await h.waitFor('the tombstone', async () => (await record('github', 'issues', '1347')).metadata?.deleted === true || (await record('github', 'issues', '1347')).deleted === true);
    expect(await send('push', { ref: 'refs/heads/main' })).toBe(202);
    expect(await lastDelivery('github')).toMatchObject({ status: 'ignored', detail: expect.stringContaining('"push"') });
  });

  it('Stripe: customer and invoice events store data.object; customer.deleted tombstones', async () => {
    const send = (event: unknown) => {
      const body = json(event);
      const t = Math.floor(Date.now() / 1000);
      return post('stripe', { 'stripe-signature': `t=${t},v1=${hmac('sha256', secrets.get('stripe')!, `${t}.${body}`, 'hex')}` }, body);
    };
    const created = Math.floor(Date.now() / 1000);
    expect(await send({ id: `evt_${randomUUID()}`, type: 'customer.created', created, data: { object: { id: 'cus_NffrFeUfNV2Hib', object: 'customer', email: 'jenny@example.com' } } })).toBe(202);
    expect((await record('stripe', 'customers', 'cus_NffrFeUfNV2Hib')).data.email).toBe('jenny@example.com');
    expect(await send({ id: `evt_${randomUUID()}`, type: 'invoice.paid', created, data: { object: { id: 'in_1MtHbELkdIwHu7ix', object: 'invoice', amount_paid: 999 } } })).toBe(202);
    expect((await record('stripe', 'invoices', 'in_1MtHbELkdIwHu7ix')).data.amount_paid).toBe(999);
    expect(await send({ id: `evt_${randomUUID()}`, type: 'customer.deleted', created: created + 1, data: { object: { id: 'cus_NffrFeUfNV2Hib', object: 'customer', deleted: true } } })).toBe(202);
    await h.waitFor('the tombstone', async () => (await record('stripe', 'customers', 'cus_NffrFeUfNV2Hib')).metadata?.deleted === true);
  });

  it('Shopify: orders/create stores the order, products/delete tombstones a product', async () => {
    const send = (topic: string, payload: unknown) => {
      const body = json(payload);
      return post('shopify', { 'x-shopify-topic': topic, 'x-shopify-webhook-id': randomUUID(), 'x-shopify-hmac-sha256': hmac('sha256', secrets.get('shopify')!, body, 'base64') }, body);
    };
    expect(await send('orders/create', { id: 820982911946154500, name: '#9999', updated_at: '2026-11-23T10:00:00-05:00' })).toBe(202);
    expect((await record('shopify', 'orders', '820982911946154500')).data.name).toBe('#9999');
    expect(await send('products/create', { id: 788032119674292900, title: 'Example T-Shirt', updated_at: '2026-11-23T10:00:00-05:00' })).toBe(202);
    await record('shopify', 'products', '788032119674292900');
    expect(await send('products/delete', { id: 788032119674292900 })).toBe(202);
    await h.waitFor('the tombstone', async () => (await record('shopify', 'products', '788032119674292900')).metadata?.deleted === true);
  });

  it('Slack: a message, its edit, and its deletion; a user change', async () => {
    const send = (event: unknown) => {
      const body = json({ token: 'x', team_id: 'T1', type: 'event_callback', event_id: `Ev${randomBytes(5).toString('hex')}`, event_time: Math.floor(Date.now() / 1000), event });
      const ts = String(Math.floor(Date.now() / 1000));
      return post('slack', { 'x-slack-request-timestamp': ts, 'x-slack-signature': `v0=${hmac('sha256', secrets.get('slack')!, `v0:${ts}:${body}`, 'hex')}` }, body);
    };
    expect(await send({ type: 'message', channel: 'C123', user: 'U1', text: 'hello', ts: '1700000000.000100' })).toBe(202);
    expect((await record('slack', 'messages', 'C123:1700000000.000100')).data.text).toBe('hello');
    expect(await send({ type: 'message', subtype: 'message_changed', channel: 'C123', message: { type: 'message', user: 'U1', text: 'hello, edited', ts: '1700000000.000100', edited: { user: 'U1', ts: '1700000100.000000' } }, ts: '1700000100.000200' })).toBe(202);
    await h.waitFor('the edit', async () => (await record('slack', 'messages', 'C123:1700000000.000100')).data.text === 'hello, edited');
    expect(await send({ type: 'message', subtype: 'message_deleted', channel: 'C123', deleted_ts: '1700000000.000100', ts: '1700000200.000300' })).toBe(202);
    await h.waitFor('the tombstone', async () => (await record('slack', 'messages', 'C123:1700000000.000100')).metadata?.deleted === true);
    expect(await send({ type: 'user_change', user: { id: 'U1', name: 'ada', updated: 1700000300 } })).toBe(202);
    expect((await record('slack', 'users', 'U1')).data.name).toBe('ada');
  });

  it('Microsoft Graph: an updated event carries no content and needs a fetch, which is logged as ignored with the reason', async () => {
    const clientState = secrets.get('msgraph')!;
    const notify = (changeType: string, id: string) => post('msgraph', {}, json({ value: [{ subscriptionId: randomUUID(), clientState, changeType, resource: `Users/u1/Events/${id}`, resourceData: { '@odata.type': '#Microsoft.Graph.Event', id }, tenantId: randomUUID() }] }));
    expect(await notify('updated', 'AAMkAGI1')).toBe(202);
    expect(await lastDelivery('msgraph')).toMatchObject({ status: 'ignored', detail: expect.stringContaining('fetching it needs a msgraph pull client') });
  });

  it('Notion: page events name only an id: acknowledged and logged as ignored with the reason', async () => {
    const body = json({ id: randomUUID(), timestamp: new Date().toISOString(), type: 'page.content_updated', entity: { id: '153104cd-477e-809d-8dc4-ff2d96ae3090', type: 'page' } });
    expect(await post('notion', { 'x-notion-signature': `sha256=${hmac('sha256', secrets.get('notion')!, body, 'hex')}` }, body)).toBe(202);
    expect(await lastDelivery('notion')).toMatchObject({ status: 'ignored', detail: expect.stringContaining('pages 153104cd-477e-809d-8dc4-ff2d96ae3090') });
  });

  it('Salesforce: an Outbound Message from our organization stores its Account and gets the SOAP Ack', async () => {
    const org = '00D5e000000AbCdEAF';
    expect((await h.api('POST', '/api/connections', { id: 'ev-salesforce', provider: 'salesforce', config: {}, credentials: { type: 'none' } })).status).toBe(201);
    expect((await h.api('PUT', '/api/connections/ev-salesforce/webhook', { scheme: 'salesforce', options: { organizationIds: [org] } })).status).toBe(200);
    const soap =
      '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>' +
      `<notifications xmlns="http://soap.sforce.com/2005/09/outbound"><OrganizationId>${org}</OrganizationId><ActionId>04k5e000000AbCd</ActionId>` +
      `<Notification><Id>04l5e00000${randomBytes(4).toString('hex')}</Id><sObject xsi:type="sf:Account" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">` +
      '<sf:Id>0015e00000AbCdE</sf:Id><sf:Name>Acme &amp; Co</sf:Name><sf:LastModifiedDate>2026-11-23T10:00:00.000Z</sf:LastModifiedDate></sObject></Notification>' +
      '</notifications></soapenv:Body></soapenv:Envelope>';
    const response = await fetch(`${h.hostUrl}/api/webhooks/salesforce/ev-salesforce`, { method: 'POST', headers: { 'content-type': 'text/xml; charset=utf-8', soapaction: '""' }, body: soap });
    expect(response.status).toBe(200);
    expect(await response.text()).toContain('<Ack>true</Ack>');
    expect((await record('salesforce', 'accounts', '0015e00000AbCdE')).data).toMatchObject({ Id: '0015e00000AbCdE', Name: 'Acme & Co' });
  });

  it('webhook-only connections refuse sync runs and schedules', async () => {
    expect((await h.api('POST', '/api/connections/ev-github/syncs', { mode: 'full' })).status).toBe(400);
    const scheduled = await h.api('POST', '/api/connections', { id: 'ev-github-2', provider: 'github', config: {}, credentials: { type: 'none' }, schedule: { enabled: true } });
    expect(scheduled.status).toBe(400);
    expect(JSON.stringify(scheduled.body)).toContain('schedule.enabled');
  });
});
