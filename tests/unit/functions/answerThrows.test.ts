import { HttpRequest, InvocationContext } from '@azure/functions';
import { PassThrough } from 'node:stream';
import { answerThrows } from '../../../functions/http/answerThrows';
import { useServices } from '../../../functions/services';
import { createServices } from '../../../shared/composition';
import { createLocalPlatform } from '../../../shared/platform/local/localPlatform';
import { tempDirectory } from '../../local/helpers';

describe('answerThrows', () => {
  it('answers a generic 500, logs the failure and records it as an exception in telemetry', async () => {
    const dir = tempDirectory('syncbridge-answer-throws-');
    const lines: string[] = [];
    const sink = new PassThrough();
    sink.on('data', (chunk: Buffer) => lines.push(...chunk.toString().split('\n').filter(Boolean)));
    const platform = createLocalPlatform({ dataDir: dir.path, telemetrySink: sink });
    useServices(createServices(platform));
    try {
      const context = new InvocationContext({ functionName: 'adminApi' });
      const logged = jest.spyOn(context, 'error').mockImplementation(() => undefined);
      const handler = answerThrows(async () => {
        throw new Error('the secret store is unreachable');
      });
      const response = await handler(new HttpRequest({ method: 'GET', url: 'http://127.0.0.1/api/x' }), context);
      expect(response).toMatchObject({ status: 500, jsonBody: { error: { code: 'internal' } } });
      expect(JSON.stringify(response)).not.toContain('unreachable');
      expect(logged).toHaveBeenCalledWith('adminApi failed: the secret store is unreachable');
      await new Promise((r) => setImmediate(r));
      expect(lines.map((l) => JSON.parse(l)).filter((l) => l.type === 'exception')).toEqual([expect.objectContaining({ message: expect.stringContaining('the secret store is unreachable') })]);
    } finally {
      await platform.close();
      dir.remove();
    }
  });
});
