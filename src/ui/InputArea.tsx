import { useEffect, useRef, useState } from 'react';
import { controller } from '../app/controller';
import { SUPPORTED_TEXT } from '../app/imageInput';
import { SAMPLES } from '../app/samples';
import { useSession } from '../state/session';
import { CameraButton, CameraMessage } from './CameraBar';

function firstFile(dt: DataTransfer | null): File | null {
  if (!dt) return null;
  if (dt.files && dt.files.length > 0) return dt.files[0] ?? null;
  for (const item of Array.from(dt.items ?? [])) {
    if (item.kind === 'file') {
      const f = item.getAsFile();
      if (f) return f;
    }
  }
  return null;
}

/** Drop anywhere on the page, paste from the clipboard, the file picker, or a sample. */
export function InputArea() {
  const [dragging, setDragging] = useState(false);
  const error = useSession((s) => s.error);
  const notice = useSession((s) => s.notice);
  const photoName = useSession((s) => s.photo?.name ?? null);
  const inputRef = useRef<HTMLInputElement>(null);

  useEffect(() => {
    let depth = 0;
    const hasFiles = (e: DragEvent) => Array.from(e.dataTransfer?.types ?? []).includes('Files');
    const onEnter = (e: DragEvent) => {
      if (hasFiles(e)) {
        depth++;
        setDragging(true);
      }
    };
    const onLeave = () => {
      depth = Math.max(0, depth - 1);
      if (depth === 0) setDragging(false);
    };
    const onOver = (e: DragEvent) => {
      e.preventDefault();
      if (e.dataTransfer) e.dataTransfer.dropEffect = 'copy';
    };
    const onDrop = (e: DragEvent) => {
      e.preventDefault();
      depth = 0;
      setDragging(false);
      const f = firstFile(e.dataTransfer);
      if (f) controller.submit(f, f.name || 'dropped file');
      else
        controller.reportInputError('Nothing to use in that drop: drop an image file (a link or text is not enough).');
    };
    const onPaste = (e: ClipboardEvent) => {
      const t = e.target as HTMLElement | null;
      if (t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA') && (t as HTMLInputElement).type !== 'range') return;
      const f = firstFile(e.clipboardData);
      if (f) {
        e.preventDefault();
        controller.submit(f, f.name && f.name !== 'image.png' ? f.name : 'pasted image');
      } else if ((e.clipboardData?.types ?? []).length)
        controller.reportInputError('The clipboard holds no image: copy an image (not its address) and paste again.');
    };
    window.addEventListener('dragenter', onEnter);
    window.addEventListener('dragleave', onLeave);
    window.addEventListener('dragover', onOver);
    window.addEventListener('drop', onDrop);
    window.addEventListener('paste', onPaste);
    return () => {
      window.removeEventListener('dragenter', onEnter);
      window.removeEventListener('dragleave', onLeave);
      window.removeEventListener('dragover', onOver);
      window.removeEventListener('drop', onDrop);
      window.removeEventListener('paste', onPaste);
    };
  }, []);

  return (
    <section className="input-area" aria-label="Choose a photo">
      <div className={`dropzone${dragging ? ' dragging' : ''}`} data-testid="dropzone">
        <p>
          <strong>Drop a photo anywhere on the page</strong>, paste one (Ctrl/⌘ V), or{' '}
          <label className="file-label">
            choose a file
            <input
              ref={inputRef}
              type="file"
              accept="image/*"
              data-testid="file-input"
              onChange={(e) => {
                const f = e.target.files?.[0];
                if (f) controller.submit(f, f.name);
                e.target.value = '';
              }}
            />
          </label>
          . {SUPPORTED_TEXT}. Your photo stays in this browser: it is decoded and analysed locally, never uploaded.
        </p>
        {photoName && (
          <p className="muted">
            Current photo: <span data-testid="photo-name">{photoName}</span>
          </p>
        )}
      </div>
      <div className="gallery" role="group" aria-label="Sample photos">
        <span className="muted">Samples:</span>
        {SAMPLES.map((s) => (
          <button
            key={s.id}
            type="button"
            className="sample"
            data-testid={`sample-${s.id}`}
            title={s.alt}
            onClick={() => void controller.submitUrl(s.file, `${s.id}.jpg`)}
          >
            <img src={s.file} alt={s.alt} width={72} height={54} loading="lazy" />
          </button>
        ))}
        <CameraButton />
      </div>
      {error && (
        <p className="notice error" role="alert" data-testid="error">
          {error}
        </p>
      )}
      {notice && (
        <p className="notice" role="status" data-testid="notice">
          {notice}
        </p>
      )}
      <CameraMessage />
    </section>
  );
}
