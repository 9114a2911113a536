/** Settings in the address bar that were clamped or ignored: a notice that can be dismissed. */
import { urlNoticesStore, useUrlNotices } from '../state/urlNotices';

export function UrlNotice() {
  const notices = useUrlNotices((s) => s.notices);
  if (!notices.length) return null;
  return (
    <div className="notice warn url-notice" role="status" data-testid="url-notice">
      <p>
        Some settings in the address were adjusted: {notices.join('; ')}.{' '}
        <button type="button" onClick={() => urlNoticesStore.getState().dismiss()}>
          Dismiss
        </button>
      </p>
    </div>
  );
}
