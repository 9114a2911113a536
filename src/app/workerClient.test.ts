import { describe, expect, expectTypeOf, it } from 'vitest';
import type { DetectResult, RequestEnvelope, WorkerMessage, WorkerStats } from '../worker/protocol';
import { WorkerClient } from './workerClient';

/** A stand-in worker: records what is posted; `answer` plays the worker's messages. */
function fakeWorker() {
  const posted: RequestEnvelope[] = [];
  const w = {
    onmessage: null as ((ev: MessageEvent<WorkerMessage>) => void) | null,
    onerror: null,
    onmessageerror: null,
    postMessage: (env: RequestEnvelope) => posted.push(env),
    terminate: () => undefined,
  };
  const answer = (m: WorkerMessage) => w.onmessage?.({ data: m } as MessageEvent<WorkerMessage>);
  return { worker: w as unknown as Worker, posted, answer };
}

const result = (model: DetectResult['model']): DetectResult => ({ model, imageId: 1, detections: [], latencyMs: 1 });

describe('WorkerClient', () => {
  it("routes a detect's results to its own request as they land, then resolves with them all", async () => {
    const { worker, posted, answer } = fakeWorker();
    const client = new WorkerClient(worker);
    const seen: string[] = [];
    const p = client.request(
      'detect',
      { imageId: 1, models: ['vanilla', 'lors'] },
      { onResult: (r) => seen.push(r.model) },
    );
    expect(posted[0]).toEqual({ id: 1, req: { type: 'detect', imageId: 1, models: ['vanilla', 'lors'] } });
    answer({ kind: 'partial', id: 1, result: result('vanilla') });
    answer({ kind: 'partial', id: 99, result: result('lors') }); // another request's: not ours
    answer({ kind: 'partial', id: 1, result: result('lors') });
    answer({ kind: 'reply', id: 1, ok: true, value: [result('vanilla'), result('lors')] });
    expect((await p).map((r) => r.model)).toEqual(['vanilla', 'lors']);
    expect(seen).toEqual(['vanilla', 'lors']);
  });

  it('ties each request to its reply type (a caller cannot assert another)', () => {
    const { worker } = fakeWorker();
    const client = new WorkerClient(worker);
    const detect = client.request('detect', { imageId: 1, models: [] });
    const stats = client.request('stats', {});
    expectTypeOf(detect).resolves.toEqualTypeOf<DetectResult[]>();
    expectTypeOf(stats).resolves.toEqualTypeOf<WorkerStats>();
    // @ts-expect-error a detect answers DetectResult[], not WorkerStats
    const wrong: Promise<WorkerStats> = detect;
    // @ts-expect-error the arguments are the request type's own
    const badArgs = client.request('setLors', { imageId: 1 });
    for (const p of [detect, stats, wrong, badArgs]) p.catch(() => undefined);
    client.terminate();
  });
});
