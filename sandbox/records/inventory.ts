import { recordId } from '../entities';
import { EntityRecordSpec, filler } from './recordTypes';
import { WAREHOUSES } from './vocabulary';

export const inventorySpec: EntityRecordSpec = {
  build(random, context, index) {
    const warehouse = random.pick(WAREHOUSES);
    const onHand = random.int(0, 5000);
    const reserved = random.int(0, Math.min(onHand, 400));
    return {
      id: recordId('inventory', index),
      // One inventory level per product (wrapping when there are more levels than products).
      product_id: context.seededCount > 0 ? recordId('products', index % context.seededCount) : null,
      warehouse_code: warehouse.code,
      warehouse_name: warehouse.name,
      country: warehouse.country,
      bin_location: `${random.chars('ABCDEFGH', 1)}-${random.int(1, 40)}-${random.int(1, 12)}`,
      quantity_on_hand: onHand,
      quantity_reserved: reserved,
      quantity_available: onHand - reserved,
      quantity_incoming: random.chance(0.3) ? random.int(10, 1000) : 0,
      reorder_point: random.int(10, 300),
      reorder_quantity: random.int(50, 1500),
      unit_cost: random.money(100, 20_000),
      tracked: random.chance(0.95),
      last_counted_by: random.pick(['a.berg', 'k.okafor', 'm.rossi', 's.tanaka', 'w.xu']),
      lot_numbers: Array.from({ length: random.int(1, 4) }, () => `LOT-${random.chars('0123456789ABCDEF', 8)}`),
      notes: filler(random, random.int(120, 300)),
    };
  },
  update(record, random) {
    const onHand = random.int(0, 5000);
    const reserved = random.int(0, Math.min(onHand, 400));
    record.quantity_on_hand = onHand;
    record.quantity_reserved = reserved;
    record.quantity_available = onHand - reserved;
    return ['quantity_on_hand', 'quantity_reserved', 'quantity_available'];
  },
};
