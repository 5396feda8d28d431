import { recordId } from '../entities';
import { orderSpec } from './orders';
import { EntityRecordSpec, digits, filler, recordRandom } from './recordTypes';
import { CARD_BRANDS, PAYMENT_METHODS, PAYMENT_STATUSES } from './vocabulary';

export const paymentSpec: EntityRecordSpec = {
  build(random, context, index) {
    // A payment settles the seeded order with the same index, for its exact total and currency.
    const orderIndex = context.seededCount > 0 ? index % context.seededCount : undefined;
    const order = orderIndex === undefined ? undefined : orderSpec.build(recordRandom(context, 'orders', orderIndex), context, orderIndex);
    const amount = typeof order?.total === 'number' ? order.total : random.money(500, 50_000);
    const method = random.pick(PAYMENT_METHODS);
    const status = random.pick(PAYMENT_STATUSES);
    return {
      id: recordId('payments', index),
      order_id: orderIndex === undefined ? null : recordId('orders', orderIndex),
      customer_id: order?.customer_id ?? null,
      amount,
      currency: order?.currency ?? 'EUR',
      status,
      method,
      card: method === 'card'
        ? { brand: random.pick(CARD_BRANDS), last4: digits(random, 4), exp_month: random.int(1, 12), exp_year: random.int(2026, 2032) }
        : null,
      processor: random.pick(['stripe', 'adyen', 'braintree', 'mollie']),
      processor_reference: `ch_${random.chars('abcdefghijklmnopqrstuvwxyz0123456789', 24)}`,
      refunded_amount: status === 'refunded' ? amount : status === 'partially_refunded' ? Math.round(amount * 50) / 100 : 0,
      fee: Math.round(amount * 2.9 + 30) / 100,
      risk: { score: random.int(0, 99), level: random.pick(['low', 'low', 'normal', 'elevated']) },
      ip_address: `198.51.100.${random.int(1, 254)}`,
      statement_descriptor: `SHOP*${random.chars('ABCDEFGHJKLMNPQRSTUVWXYZ', 8)}`,
      captured_at_offset_seconds: random.int(0, 86_400),
      billing_details: {
        postal_code: digits(random, 5),
        country: random.pick(['DK', 'DE', 'FR', 'IT', 'GB', 'US', 'CA', 'JP', 'SE', 'ES']),
        email_verified: random.chance(0.9),
      },
      metadata: { checkout_id: `chk_${random.chars('0123456789abcdef', 16)}`, attempt: random.int(1, 3) },
      description: filler(random, random.int(120, 260)),
    };
  },
  update(record, random) {
    const amount = typeof record.amount === 'number' ? record.amount : 0;
    record.status = random.pick(['captured', 'refunded', 'partially_refunded']);
    record.refunded_amount = record.status === 'refunded' ? amount : record.status === 'partially_refunded' ? Math.round(amount * 50) / 100 : 0;
    record.risk = { score: random.int(0, 99), level: random.pick(['low', 'normal', 'elevated']) };
    return ['status', 'refunded_amount', 'risk'];
  },
};
