import type { Delivery } from '../../shared/ports/deliveryStore';
import { openDatabase } from '../../shared/platform/local/database';
import { SqliteDeliveryStore } from '../../shared/platform/local/sqliteDeliveryStore';
import { sampleDelivery } from '../conformance/fixtures';

/**
 * The SQLite delivery log writes webhook health once per connection per batch of inserts, not
 * once per delivery (the journal drain inserts hundreds at a time). Counted by SQLite itself: a
 * temporary trigger on the health table.
 */
test('insertMany writes each connection\'s health row once per batch', async () => {
  const db = openDatabase(':memory:');
  const store = new SqliteDeliveryStore(db);
  db.exec(`
    CREATE TEMP TABLE health_writes (n INTEGER NOT NULL);
    INSERT INTO health_writes VALUES (0);
    CREATE TEMP TRIGGER count_health_insert AFTER INSERT ON webhook_health BEGIN UPDATE health_writes SET n = n + 1; END;
    CREATE TEMP TRIGGER count_health_update AFTER UPDATE ON webhook_health BEGIN UPDATE health_writes SET n = n + 1; END;
  `);
  const delivery = (connectionId: string, n: number): Delivery => sampleDelivery(n, { tenantId: 't1', connectionId });
  const batch = Array.from({ length: 50 }, (_, n) => delivery(n % 2 === 0 ? 'conn-a' : 'conn-b', n));
  expect((await store.insertMany(batch)).every(Boolean)).toBe(true);
  expect((db.prepare('SELECT n FROM health_writes').get() as { n: number }).n).toBe(2);
  expect((await store.health('conn-a')).received).toBe(25);
  expect((await store.health('conn-b')).received).toBe(25);
  db.close();
});
