/** Word lists the record generators draw from, so that records look like real commerce data. */

export const FIRST_NAMES = [
  'Ada', 'Ben', 'Chloe', 'Dmitri', 'Elena', 'Farah', 'Gustav', 'Hana', 'Ivan', 'Jonas', 'Kemi', 'Lena',
  'Mateo', 'Nora', 'Omar', 'Priya', 'Quinn', 'Rosa', 'Sami', 'Tomas', 'Uma', 'Viktor', 'Wen', 'Ximena',
  'Yusuf', 'Zoe', 'Aiko', 'Bruno', 'Carmen', 'Diego', 'Emma', 'Felix',
] as const;

export const LAST_NAMES = [
  'Andersen', 'Baptiste', 'Chen', 'Dubois', 'Eriksen', 'Fischer', 'Garcia', 'Haddad', 'Ito', 'Jensen',
  'Kowalski', 'Larsen', 'Moreau', 'Nakamura', 'Okafor', 'Petrov', 'Quispe', 'Rossi', 'Schmidt', 'Tanaka',
  'Ueda', 'Varga', 'Weber', 'Xu', 'Yilmaz', 'Zimmermann',
] as const;

export const COMPANY_WORDS = [
  'Northwind', 'Bluefin', 'Copperleaf', 'Driftwood', 'Evergreen', 'Foxglove', 'Granite', 'Harbor',
  'Ironbark', 'Juniper', 'Keystone', 'Lighthouse', 'Meridian', 'Nimbus', 'Oakridge', 'Pinecrest',
] as const;

export const COMPANY_SUFFIXES = ['Ltd', 'GmbH', 'Inc.', 'AB', 'SAS', 'LLC', 'BV', 'Co.'] as const;

export const EMAIL_DOMAINS = ['example.com', 'example.org', 'example.net', 'mail.example', 'shop.example'] as const;

export const STREET_NAMES = [
  'Maple Street', 'Harbour Road', 'Linden Allee', 'Rue des Fleurs', 'Via Roma', 'Kings Avenue', 'Calle Mayor',
  'Station Road', 'Mill Lane', 'Park Boulevard', 'Church Street', 'Bridge Road', 'Elm Court', 'Hill View',
] as const;

/** City, region, country code, currency and locale that belong together. */
export const PLACES = [
  { city: 'Copenhagen', region: 'Hovedstaden', country: 'DK', currency: 'DKK', locale: 'da-DK' },
  { city: 'Berlin', region: 'Berlin', country: 'DE', currency: 'EUR', locale: 'de-DE' },
  { city: 'Lyon', region: 'Auvergne-Rhône-Alpes', country: 'FR', currency: 'EUR', locale: 'fr-FR' },
  { city: 'Milan', region: 'Lombardy', country: 'IT', currency: 'EUR', locale: 'it-IT' },
  { city: 'Manchester', region: 'Greater Manchester', country: 'GB', currency: 'GBP', locale: 'en-GB' },
  { city: 'Austin', region: 'Texas', country: 'US', currency: 'USD', locale: 'en-US' },
  { city: 'Toronto', region: 'Ontario', country: 'CA', currency: 'CAD', locale: 'en-CA' },
  { city: 'Osaka', region: 'Osaka', country: 'JP', currency: 'JPY', locale: 'ja-JP' },
  { city: 'Stockholm', region: 'Stockholm', country: 'SE', currency: 'SEK', locale: 'sv-SE' },
  { city: 'Madrid', region: 'Madrid', country: 'ES', currency: 'EUR', locale: 'es-ES' },
] as const;

export const CUSTOMER_TAGS = [
  'vip', 'wholesale', 'newsletter', 'returning', 'b2b', 'first-order', 'high-value', 'churn-risk',
  'loyalty-gold', 'loyalty-silver', 'gift-buyer', 'eco', 'student', 'staff', 'influencer',
] as const;

export const PRODUCT_ADJECTIVES = [
  'Classic', 'Organic', 'Ultralight', 'Handmade', 'Recycled', 'Compact', 'Premium', 'Everyday', 'Vintage',
  'Waterproof', 'Insulated', 'Modular', 'Wireless', 'Ceramic', 'Merino', 'Bamboo',
] as const;

export const PRODUCT_NOUNS = [
  'Backpack', 'Mug', 'Jacket', 'Lamp', 'Notebook', 'Kettle', 'Scarf', 'Headphones', 'Water Bottle',
  'Desk Organizer', 'Sneakers', 'Blanket', 'Chef Knife', 'Yoga Mat', 'Planter', 'Wallet',
] as const;

export const PRODUCT_CATEGORIES = [
  'apparel', 'home', 'kitchen', 'outdoor', 'electronics', 'stationery', 'accessories', 'sports',
] as const;

export const COLORS = ['black', 'white', 'navy', 'forest', 'sand', 'rust', 'grey', 'ochre', 'teal'] as const;
export const SIZES = ['XS', 'S', 'M', 'L', 'XL', 'one-size'] as const;

export const WAREHOUSES = [
  { code: 'CPH-1', name: 'Copenhagen North', country: 'DK' },
  { code: 'BER-2', name: 'Berlin Schönefeld', country: 'DE' },
  { code: 'AUS-1', name: 'Austin Logistics Park', country: 'US' },
  { code: 'OSA-3', name: 'Osaka Bay', country: 'JP' },
  { code: 'MAN-1', name: 'Manchester Trafford', country: 'GB' },
] as const;

export const ORDER_STATUSES = ['pending', 'paid', 'fulfilled', 'shipped', 'delivered', 'cancelled', 'refunded'] as const;
export const FULFILLMENT_STATUSES = ['unfulfilled', 'partial', 'fulfilled'] as const;
export const CARRIERS = ['DHL', 'UPS', 'PostNord', 'FedEx', 'Royal Mail', 'Yamato'] as const;
export const SALES_CHANNELS = ['web', 'mobile_app', 'pos', 'marketplace', 'phone'] as const;

export const PAYMENT_METHODS = ['card', 'paypal', 'bank_transfer', 'klarna', 'apple_pay', 'gift_card'] as const;
export const PAYMENT_STATUSES = ['authorized', 'captured', 'failed', 'refunded', 'partially_refunded'] as const;
export const CARD_BRANDS = ['visa', 'mastercard', 'amex', 'discover', 'jcb'] as const;

/** Filler for free-text fields (notes, descriptions); realistic length matters more than meaning. */
export const NOTE_WORDS = [
  'prefers', 'delivery', 'before', 'noon', 'call', 'on', 'arrival', 'leave', 'parcel', 'with', 'neighbour',
  'invoice', 'monthly', 'requested', 'sample', 'discount', 'applied', 'returns', 'usually', 'within', 'week',
  'gift', 'wrap', 'every', 'order', 'contact', 'by', 'email', 'only', 'loyal', 'since', 'launch', 'sizes',
  'run', 'small', 'asked', 'about', 'restock', 'bulk', 'pricing', 'for', 'team', 'events', 'the', 'and',
] as const;
