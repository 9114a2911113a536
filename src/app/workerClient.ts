/** Promise-based requests to the inference worker, each answered with its own type (protocol.ts WorkerApi). */
import type { BackendName } from '../model/types';
import type { DetectResult, RequestEnvelope, RequestType, WorkerApi, WorkerMessage } from '../worker/protocol';

export interface WorkerEvents {
  onProgress?: (model: string, loaded: number, total: number) => void;
  onStatus?: (message: string, phase?: 'loading' | 'warming') => void;
  onBackend?: (backend: BackendName, fallbackReason?: string) => void;
  /** The worker's WebGPU device was lost: its models are unusable. */
  onDeviceLost?: (message: string) => void;
  /** The worker crashed or could not start (script error). */
  onFatal?: (message: string) => void;
}

export class WorkerClient {
  private nextId = 1;
  private pending = new Map<
    number,
    { resolve: (v: never) => void; reject: (e: Error) => void; onResult?: (r: DetectResult) => void }
  >();
  private dead: string | null = null;

  constructor(
    private readonly worker: Worker,
    private events: WorkerEvents = {},
  ) {
    worker.onmessage = (ev: MessageEvent<WorkerMessage>) => this.onMessage(ev.data);
    worker.onerror = (ev: ErrorEvent) => {
      ev.preventDefault();
      this.fail(`the inference worker failed: ${ev.message || 'script error (could not load the worker)'}`);
    };
    worker.onmessageerror = () => this.fail('the inference worker sent an unreadable message');
  }

  private fail(message: string) {
    this.dead = message;
    for (const p of this.pending.values()) p.reject(new Error(message));
    this.pending.clear();
    this.events.onFatal?.(message);
  }

  private onMessage(m: WorkerMessage) {
    switch (m.kind) {
      case 'progress':
        this.events.onProgress?.(m.model, m.loaded, m.total);
        break;
      case 'status':
        this.events.onStatus?.(m.message, m.phase);
        break;
      case 'backend':
        this.events.onBackend?.(m.backend, m.fallbackReason);
        break;
      case 'partial':
        this.pending.get(m.id)?.onResult?.(m.result);
        break;
      case 'deviceLost':
        this.events.onDeviceLost?.(m.message);
        break;
      case 'reply': {
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        if (m.ok) p.resolve(m.value as never);
        else p.reject(new Error(m.error));
        break;
      }
    }
  }

  /**
   * Sends one request; resolves to its reply. `transfer`: buffers moved to the worker; `onResult`: each result of a
   * `detect` as it lands, before the reply brings them all.
   */
  request<K extends RequestType>(
    type: K,
    args: WorkerApi[K]['req'],
    opts: { transfer?: Transferable[]; onResult?: (r: DetectResult) => void } = {},
  ): Promise<WorkerApi[K]['reply']> {
    if (this.dead) return Promise.reject(new Error(this.dead));
    const id = this.nextId++;
    const env = { id, req: { type, ...args } } as RequestEnvelope;
    return new Promise<WorkerApi[K]['reply']>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, onResult: opts.onResult });
      this.worker.postMessage(env, opts.transfer ?? []);
    });
  }

  terminate() {
    this.events = {};
    this.worker.terminate();
    this.fail('worker stopped');
  }
}
