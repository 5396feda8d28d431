import type { Connection } from './model';
import type { ConnectionStore } from '../ports/connectionStore';

/** Connections read per store call while walking all of them. */
const PAGE = 200;

/**
 * Every connection of every tenant, page by page in id order (ConnectionStore.listAll), for the
 * timers that visit them all: the scheduler's tick and the token refresher's sweep. A connection
 * created during the walk is visited if its id sorts after the page being read.
 */
export async function* allConnections(connections: ConnectionStore): AsyncGenerator<Connection> {
  let afterId: string | undefined;
  for (;;) {
    const page = await connections.listAll({ afterId, limit: PAGE });
    if (page.length === 0) return;
    afterId = page[page.length - 1].id;
    yield* page;
  }
}
