// Talking to the dashboard's JSON APIs, and the small formatting helpers every panel uses.

class ApiError extends Error {
  constructor(status, message, retryAfter) {
    super(message);
    this.status = status;
    /** Seconds to wait, from Retry-After (a 429). */
    this.retryAfter = retryAfter;
  }
}

/** GET (or, with a body, POST) a JSON API; a non-2xx answer throws ApiError with the server's message. */
export async function api(path, body) {
  const init =
    body === undefined
      ? { headers: { accept: 'application/json' } }
      : {
          method: 'POST',
          headers: { accept: 'application/json', 'content-type': 'application/json' },
          body: JSON.stringify(body),
        };
  const res = await fetch(path, init);
  const data = await res.json().catch(() => null);
  if (!res.ok) {
    const reason = data && typeof data.error === 'string' ? data.error : `${res.status} ${res.statusText}`;
    throw new ApiError(res.status, reason, Number(res.headers.get('retry-after')) || undefined);
  }
  return data;
}

const number = new Intl.NumberFormat('ko-KR');
export const fmt = (n) => (n === null || n === undefined ? '–' : number.format(n));

/** An element with text content (never HTML: road names come from outside). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k.startsWith('data-')) node.setAttribute(k, v);
    else node[k] = v;
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined) return '–';
  if (seconds < 60) return `${Math.round(seconds)}초`;
  const m = Math.floor(seconds / 60);
  if (m < 60) return `${m}분 ${Math.round(seconds % 60)}초`;
  return `${Math.floor(m / 60)}시간 ${m % 60}분`;
}

export function dateTime(iso) {
  if (!iso) return '–';
  return new Date(iso).toLocaleString('ko-KR', { timeZone: 'Asia/Seoul', hour12: false });
}
