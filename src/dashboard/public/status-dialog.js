// Changing a segment's repair status: the move, a note (required to move back), and the server's verdict.
// A refused change shows the server's reason and changes nothing.
import { api, fmt } from './api.js';

/** Why a change was refused, in the page's words where the page has them. */
function refusal(err) {
  if (err.status === 401) return '상태를 바꾸려면 로그인이 필요합니다.';
  if (err.status === 429)
    return `로그인에 너무 여러 번 실패했습니다. ${err.retryAfter ?? ''}초 뒤에 다시 시도해 주세요.`;
  if (err.status === 403) return `이 주소에서 연 페이지로는 상태를 바꿀 수 없습니다: ${err.message}`;
  return err.message;
}

export function createStatusDialog(settings) {
  const dialog = document.getElementById('status-dialog');
  const note = document.getElementById('status-note');
  const count = document.getElementById('note-count');
  const error = document.getElementById('status-error');
  const confirm = document.getElementById('status-confirm');
  let current = null;

  // As the server counts: after trimming, in characters (an emoji is one, not its two UTF-16 units).
  const noteLength = () => [...note.value.trim()].length;
  const updateCount = () => {
    count.textContent = `${fmt(noteLength())} / ${fmt(settings.noteMaxLength)}자`;
    count.classList.toggle('over', noteLength() > settings.noteMaxLength);
  };
  note.addEventListener('input', updateCount);

  confirm.addEventListener('click', async () => {
    if (!current) return;
    const { row, move, resolve } = current;
    confirm.disabled = true;
    try {
      const change = await api(`/api/segments/${encodeURIComponent(row.s_id)}/status`, {
        status: move.to,
        note: note.value,
        expected: row.repair_status,
      });
      current = null;
      dialog.close();
      resolve(change);
    } catch (err) {
      error.textContent = refusal(err);
      error.hidden = false;
    } finally {
      confirm.disabled = false;
    }
  });

  dialog.addEventListener('close', () => {
    if (current) current.resolve(null);
    current = null;
  });

  return {
    /** Resolves with the recorded change, or null when the dialog was closed without one. */
    open(row, move) {
      return new Promise((resolve) => {
        current = { row, move, resolve };
        document.getElementById('status-segment').textContent =
          `${row.road_name ?? '(도로명 없음)'} · ${row.s_id}`;
        document.getElementById('status-move').textContent =
          `${row.repair_status} → ${move.to}${move.noteRequired ? ' (되돌리는 이유를 메모에 적어 주세요)' : ''}`;
        note.value = '';
        note.required = move.noteRequired;
        error.hidden = true;
        updateCount();
        dialog.showModal();
        note.focus();
      });
    },
  };
}
