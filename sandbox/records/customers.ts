import { recordId } from '../entities';
import { SeededRandom } from '../random';
import { EntityRecordSpec, digits, filler } from './recordTypes';
import { COMPANY_SUFFIXES, COMPANY_WORDS, CUSTOMER_TAGS, EMAIL_DOMAINS, FIRST_NAMES, LAST_NAMES, PLACES, STREET_NAMES } from './vocabulary';

function address(random: SeededRandom, place: (typeof PLACES)[number]) {
  return {
    line1: `${random.int(1, 240)} ${random.pick(STREET_NAMES)}`,
    line2: random.chance(0.3) ? `Apt ${random.int(1, 60)}` : null,
    city: place.city,
    region: place.region,
    postal_code: digits(random, 5),
    country: place.country,
  };
}

export const customerSpec: EntityRecordSpec = {
  build(random, _context, index) {
    const first = random.pick(FIRST_NAMES);
    const last = random.pick(LAST_NAMES);
    const place = random.pick(PLACES);
    const billing = address(random, place);
    const business = random.chance(0.25);
    return {
      id: recordId('customers', index),
      first_name: first,
      last_name: last,
      name: `${first} ${last}`,
      // The index keeps emails unique, as providers enforce.
      email: `${first}.${last}.${index + 1}@${random.pick(EMAIL_DOMAINS)}`.toLowerCase(),
      phone: `+${random.int(1, 99)} ${digits(random, 3)} ${digits(random, 3)} ${digits(random, 4)}`,
      company: business ? `${random.pick(COMPANY_WORDS)} ${random.pick(COMPANY_SUFFIXES)}` : null,
      status: random.pick(['active', 'active', 'active', 'invited', 'disabled']),
      locale: place.locale,
      currency: place.currency,
      address: billing,
      shipping_address: random.chance(0.7) ? billing : address(random, place),
      tags: random.pickSome(CUSTOMER_TAGS, random.int(0, 4)),
      marketing_opt_in: random.chance(0.55),
      loyalty_points: random.int(0, 12000),
      orders_count: random.int(0, 80),
      lifetime_value: random.money(0, 2_500_000),
      notes: filler(random, random.int(80, 260)),
    };
  },
  update(record, random) {
    record.phone = `+${random.int(1, 99)} ${digits(random, 3)} ${digits(random, 3)} ${digits(random, 4)}`;
    record.loyalty_points = random.int(0, 12000);
    record.tags = random.pickSome(CUSTOMER_TAGS, random.int(1, 4));
    record.notes = filler(random, random.int(80, 260));
    return ['phone', 'loyalty_points', 'tags', 'notes'];
  },
};
