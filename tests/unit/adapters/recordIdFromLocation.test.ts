import { recordIdFromLocation } from '../../../shared/adapters/recordIdFromLocation';

/** The record URLs of a REST adapter whose base URL has a path of its own, as ProviderHttpClient.urlOf builds them. */
const recordUrl = (base: string, template: string) => (id: string): URL => {
  if (id === '.' || id === '..') throw new Error('a dot segment names another resource');
  return new URL(template.replace('{id}', encodeURIComponent(id)).replace(/^\//, ''), base.endsWith('/') ? base : `${base}/`);
};

describe('recordIdFromLocation: the id a create\'s Location names, only when it is one record\'s path', () => {
  const customers = recordUrl('https://api.example.com/api', '/v1/customers/{id}');

  test('reads the id of a Location that is exactly the record path, whatever its query', () => {
    expect(recordIdFromLocation('https://api.example.com/api/v1/customers/cus_77', customers)).toBe('cus_77');
    expect(recordIdFromLocation('https://api.example.com/api/v1/customers/cus_77?expand=none', customers)).toBe('cus_77');
    expect(recordIdFromLocation('https://api.example.com/api/v1/customers/a%20b%2Fc', customers)).toBe('a b/c');
  });

  test('names nothing for another origin, another path, two segments, no segment, a dot segment or an encoding the adapter would not send', () => {
    for (const location of [
      'https://evil.example.com/api/v1/customers/cus_77',
      'http://api.example.com/api/v1/customers/cus_77',
      'https://api.example.com/v1/customers/cus_77', // without the base URL's path
      'https://api.example.com/api/v1/orders/cus_77',
      'https://api.example.com/api/v1/customers/cus_77/notes',
      'https://api.example.com/api/v1/customers/',
      'https://api.example.com/api/v1/customers/%2E%2E',
      'https://api.example.com/api/v1/customers/cus%5F77',
      'https://api.example.com/api/v1/customers/%E0%A4%A',
      'not a url',
    ]) {
      expect(recordIdFromLocation(location, customers)).toBeUndefined();
    }
  });

  test('reads an id between fixed parts of the template, and none when {id} is in the query', () => {
    const nested = recordUrl('https://api.example.com', '/v1/customers/{id}/profile');
    expect(recordIdFromLocation('https://api.example.com/v1/customers/42/profile', nested)).toBe('42');
    expect(recordIdFromLocation('https://api.example.com/v1/customers/42', nested)).toBeUndefined();
    const byQuery = recordUrl('https://api.example.com', '/v1/customers?id={id}');
    expect(recordIdFromLocation('https://api.example.com/v1/customers?id=42', byQuery)).toBeUndefined();
  });
});
