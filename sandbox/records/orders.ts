import { recordId } from '../entities';
import { EntityRecordSpec, digits, filler } from './recordTypes';
import { CARRIERS, FULFILLMENT_STATUSES, ORDER_STATUSES, PLACES, SALES_CHANNELS, STREET_NAMES } from './vocabulary';

export const orderSpec: EntityRecordSpec = {
  build(random, context, index) {
    const place = random.pick(PLACES);
    const lineCount = random.int(1, 4);
    const lineItems = [];
    let subtotalCents = 0;
    for (let line = 0; line < lineCount; line++) {
      const quantity = random.int(1, 5);
      const unitCents = random.int(299, 19_999);
      subtotalCents += quantity * unitCents;
      lineItems.push({
        product_id: context.seededCount > 0 ? recordId('products', random.int(0, context.seededCount - 1)) : null,
        sku: `SKU-${digits(random, 7)}`,
        quantity,
        tax_rate: 0.2,
        unit_price: unitCents / 100,
        line_total: (quantity * unitCents) / 100,
      });
    }
    const shippingCents = random.pick([0, 0, 495, 995, 1495]);
    const taxCents = Math.round(subtotalCents * 0.2);
    const status = random.pick(ORDER_STATUSES);
    return {
      id: recordId('orders', index),
      number: `#${100000 + index + 1}`,
      // References only seeded customers, which exist for as long as nobody deletes them.
      customer_id: context.seededCount > 0 ? recordId('customers', random.int(0, context.seededCount - 1)) : null,
      status,
      fulfillment_status: random.pick(FULFILLMENT_STATUSES),
      channel: random.pick(SALES_CHANNELS),
      currency: place.currency,
      line_items: lineItems,
      subtotal: subtotalCents / 100,
      shipping: shippingCents / 100,
      tax: taxCents / 100,
      total: (subtotalCents + shippingCents + taxCents) / 100,
      shipping_address: {
        line1: `${random.int(1, 240)} ${random.pick(STREET_NAMES)}`,
        city: place.city,
        region: place.region,
        postal_code: digits(random, 5),
        country: place.country,
      },
      shipment: status === 'shipped' || status === 'delivered'
        ? { carrier: random.pick(CARRIERS), tracking_number: random.chars('ABCDEFGHJKLMNPQRSTUVWXYZ0123456789', 14) }
        : null,
      discount_codes: random.chance(0.25) ? [random.pick(['WELCOME10', 'SPRING', 'VIP20', 'FREESHIP'])] : [],
      tags: random.pickSome(['gift', 'priority', 'wholesale', 'subscription', 'preorder'], random.int(0, 2)),
      note: random.chance(0.4) ? filler(random, random.int(40, 140)) : null,
    };
  },
  update(record, random) {
    record.status = random.pick(ORDER_STATUSES);
    record.fulfillment_status = random.pick(FULFILLMENT_STATUSES);
    record.note = filler(random, random.int(40, 140));
    return ['status', 'fulfillment_status', 'note'];
  },
};
