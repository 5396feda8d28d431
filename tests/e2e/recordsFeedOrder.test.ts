import { twoWayFor } from '../../shared/core/outbound/registry';
import { Harness } from '../support/harness';

const cus = (i: number) => `cus_${String(i).padStart(7, '0')}`;

/**
 * A client that polls GET /records with modifiedAfter = the newest lastModifiedAt it has seen must
 * miss no change (docs/admin-api.md), also when a pull page's time was taken before its reads and
 * another write committed in between.
 */
describe('records feed (modifiedAfter) in commit order', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await Harness.start({ sandbox: { recordsPerEntity: 20 } });
    twoWayFor(h.services, { retry: { initialDelayMs: 20, maxDelayMs: 100, maxAttempts: 2 }, random: () => 0.5 });
  });
  afterAll(async () => h.close());

  it('shows a pulled change after a local edit that committed while the page was being read', async () => {
    const con = await h.twoWayConnection('feedorder');
    await h.sandbox('PATCH', `records/customers/${cus(3)}`, { name: 'Changed remotely' });
    // Holds the pull's state read open (a slow store round trip) so that the local edit commits
    // between the page's time being taken and its write. Only a delay: the store is the real one.
    const records = h.platform.records;
    const getStates = records.getStates.bind(records);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let entered!: () => void;
    const pageEntered = new Promise<void>((resolve) => (entered = resolve));
    let held = false;
    records.getStates = async (scope, ids) => {
      if (!held && scope.connectionId === con) {
        held = true;
        entered();
        await gate;
      }
      return getStates(scope, ids);
    };
    try {
      const runId = await h.startSync('full', con);
      await pageEntered;
      await new Promise((resolve) => setTimeout(resolve, 20));
      const edit = await h.api('PATCH', `/api/connections/${con}/records/customers/${cus(9)}`, { name: 'Local edit' });
      expect(edit.status).toBe(202);
      const all = await h.api('GET', `/api/connections/${con}/records?entity=customers&limit=1000`);
      const mark = all.body.records[all.body.records.length - 1].metadata.lastModifiedAt;
      release();
      expect((await h.waitForRun(runId)).state).toBe('done');
      const next = await h.api('GET', `/api/connections/${con}/records?entity=customers&modifiedAfter=${encodeURIComponent(mark)}&limit=1000`);
      const changed = next.body.records.find((r: { externalId: string }) => r.externalId === cus(3));
      expect(changed?.data.name).toBe('Changed remotely');
    } finally {
      records.getStates = getStates;
      release();
    }
  });
});
