import { execFileSync } from 'node:child_process';
import { request } from 'node:http';
import { connect, createServer, Socket, type AddressInfo } from 'node:net';

/** Whether jest's setupFiles installed the guard before this file ran (read before the require below). */
const installedBySetup = Boolean((Socket.prototype as unknown as Record<symbol, unknown>)[Symbol.for('syncbridge.tests.loopbackOnly')]);
const { isLoopback } = require('../../support/loopbackOnly') as { isLoopback: (host: string | undefined) => boolean };

function connectResult(options: { host: string; port: number }): Promise<string> {
  return new Promise((done) => {
    const socket = connect(options, () => {
      socket.destroy();
      done('connected');
    });
    socket.setTimeout(3000, () => {
      socket.destroy();
      done('timed out');
    });
    socket.on('error', (error: NodeJS.ErrnoException) => done(`${error.code}: ${error.message}`));
  });
}

describe('tests reach loopback only', () => {
  it('is installed for every test file by the jest configuration', () => {
    expect(installedBySetup).toBe(true);
  });

  it('tells loopback names and addresses from the rest', () => {
    for (const host of [undefined, 'localhost', '127.0.0.1', '127.3.2.1', '::1', '[::1]', 'vault.localhost', '::ffff:127.0.0.1']) expect([host, isLoopback(host)]).toEqual([host, true]);
    for (const host of ['169.254.169.254', '192.0.2.1', 'example.com', 'localhost.example.com', '10.0.0.1', '::ffff:10.0.0.1']) expect([host, isLoopback(host)]).toEqual([host, false]);
  });

  it('refuses a connection off loopback at once, as an unreachable host would, and lets loopback through', async () => {
    // 192.0.2.1 (TEST-NET-1) is never routed: without the guard this connect hangs until the timeout.
    expect(await connectResult({ host: '192.0.2.1', port: 80 })).toMatch(/^ECONNREFUSED: .*tests reach loopback only/);
    const server = createServer((socket) => socket.end());
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    try {
      expect(await connectResult({ host: '127.0.0.1', port: (server.address() as AddressInfo).port })).toBe('connected');
    } finally {
      server.close();
    }
  });

  it('refuses the Azure VM metadata probe the Application Insights SDK makes, through node:http', async () => {
    const outcome = await new Promise<string>((done) => {
      const req = request({ host: '169.254.169.254', path: '/metadata/instance/compute?api-version=2017-12-01&format=json', headers: { Metadata: 'True' }, timeout: 3000 }, (res) => done(`answered ${res.statusCode}`));
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', (error: NodeJS.ErrnoException) => done(error.code ?? error.message));
      req.end();
    });
    expect(outcome).toBe('ECONNREFUSED');
  });

  it('is preloaded into the Node processes tests start', () => {
    const script = "require('node:net').connect({host:'192.0.2.1',port:80}).on('error',e=>{console.log(e.code);process.exit(0)});setTimeout(()=>{console.log('no guard');process.exit(0)},3000)";
    expect(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' }).trim()).toBe('ECONNREFUSED');
  });
});
