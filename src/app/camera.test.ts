import { describe, expect, it } from 'vitest';
import { CameraError, cameraErrorText } from './camera';

describe('cameraErrorText', () => {
  const err = (name: string) => new DOMException('from the browser', name);
  it('says what happened and that photos still work, for each getUserMedia failure', () => {
    expect(cameraErrorText(err('NotAllowedError'))).toMatch(/^Camera access was denied.*Photos still work/);
    expect(cameraErrorText(err('NotFoundError'))).toMatch(/^No camera was found\..*Photos still work/);
    expect(cameraErrorText(err('NotReadableError'))).toMatch(/^The camera could not be started \(another application/);
    expect(cameraErrorText(new CameraError('This browser offers no camera access here.'))).toMatch(
      /^This browser offers no camera/,
    );
    expect(cameraErrorText(new Error('boom'))).toMatch(/^The camera failed: boom\./);
  });
});
