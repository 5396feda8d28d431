import type { AddressInfo } from 'node:net';
import createCosmosServer from '@vercel/cosmosdb-server';

/**
 * The loopback Cosmos DB server in a process of its own for the benchmark, so that its CPU is not
 * counted as SyncBridge's. Prints `listening on https://127.0.0.1:<port>`.
 */
const server = createCosmosServer();
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening on https://127.0.0.1:${(server.address() as AddressInfo).port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
