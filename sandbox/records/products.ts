import { recordId } from '../entities';
import { EntityRecordSpec, digits, filler } from './recordTypes';
import { COLORS, PRODUCT_ADJECTIVES, PRODUCT_CATEGORIES, PRODUCT_NOUNS, SIZES } from './vocabulary';

export const productSpec: EntityRecordSpec = {
  build(random, _context, index) {
    const title = `${random.pick(PRODUCT_ADJECTIVES)} ${random.pick(PRODUCT_NOUNS)}`;
    const price = random.money(299, 49_999);
    return {
      id: recordId('products', index),
      sku: `SKU-${String(index + 1).padStart(7, '0')}-${random.chars('ABCDEFGHJKLMNPQRSTUVWXYZ', 2)}`,
      title,
      handle: `${title.toLowerCase().replace(/ /g, '-')}-${index + 1}`,
      description: filler(random, random.int(160, 320)),
      category: random.pick(PRODUCT_CATEGORIES),
      vendor: random.pick(['Acme Supply', 'Nordic Goods', 'Studio Kiln', 'Trailhead Co', 'Loom & Thread']),
      status: random.pick(['active', 'active', 'active', 'draft', 'archived']),
      price,
      compare_at_price: random.chance(0.3) ? Math.round(price * 125) / 100 : null,
      currency: 'EUR',
      taxable: random.chance(0.9),
      barcode: digits(random, 13),
      weight_grams: random.int(40, 4000),
      dimensions_cm: { length: random.int(5, 80), width: random.int(5, 60), height: random.int(1, 40) },
      options: { color: random.pickSome(COLORS, random.int(1, 3)), size: random.pickSome(SIZES, random.int(1, 4)) },
      tags: random.pickSome(['new', 'bestseller', 'sale', 'limited', 'gift', 'eco', 'bundle'], random.int(0, 3)),
    };
  },
  update(record, random) {
    record.price = random.money(299, 49_999);
    record.status = random.pick(['active', 'draft', 'archived']);
    record.description = filler(random, random.int(160, 320));
    return ['price', 'status', 'description'];
  },
};
