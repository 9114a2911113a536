import { describe, expect, it } from 'vitest';
import { deviceLossBehind, isDeviceLossError } from './deviceLoss';

describe('device loss', () => {
  it('recognises the errors a lost or destroyed WebGPU device raises, and nothing else', () => {
    expect(isDeviceLossError(new Error("Failed to execute 'mapAsync' on 'GPUBuffer': Device is lost"))).toBe(true);
    expect(isDeviceLossError(new Error('the GPUDevice was destroyed'))).toBe(true);
    expect(isDeviceLossError('device lost')).toBe(true);
    expect(isDeviceLossError(new Error('no features cached for image 3'))).toBe(false);
    expect(isDeviceLossError(new Error('models/lors/model.json: HTTP 404 (file not found)'))).toBe(false);
  });

  it('deviceLossBehind: a loss error gives its message; other errors give null without a device (Node)', async () => {
    expect(await deviceLossBehind(new Error('Device is lost'))).toBe('Device is lost');
    expect(await deviceLossBehind(new Error('unrelated'), 10)).toBeNull();
  });
});
