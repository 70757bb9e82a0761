/**
 * Check 10: Kakao accepts KAKAO_REST_API_KEY, with one address lookup (the request load_to_rdb makes for each
 * new segment). Without a key the geocoding is off, and so is the check.
 */
import { coord2addressUrl, kakaoHeaders } from '../../activities/geocode';
import { ok, problem, skipped, type Check } from './check';

const NAME = 'kakao';
/** Seoul City Hall. */
const PROBE = { lon: 126.978, lat: 37.5665 };

export const kakaoCheck: Check = {
  name: NAME,
  needs: ['kakao'],
  unreachableFix: 'check that this machine reaches KAKAO_API_URL (proxy, firewall)',
  async run(ctx, signal) {
    const config = ctx.section('kakao');
    const key = config.KAKAO_REST_API_KEY;
    if (!key) return [skipped(NAME, 'KAKAO_REST_API_KEY is not set: new segments are not geocoded')];
    const res = await fetch(coord2addressUrl(config, PROBE.lon, PROBE.lat), {
      headers: kakaoHeaders(key),
      signal,
    });
    const body = res.ok ? '' : (await res.text().catch(() => '')).slice(0, 200);
    const answer = `${config.KAKAO_API_URL} answered ${res.status}${body ? `: ${body}` : ''}`;
    await res.body?.cancel().catch(() => undefined);
    if (res.ok) return [ok(NAME, `key accepted by ${config.KAKAO_API_URL}`)];
    if (res.status === 401) {
      return [
        problem(
          NAME,
          `the key was refused: ${answer}`,
          'set KAKAO_REST_API_KEY to the app’s REST API key (developers.kakao.com → My Application → App Keys)',
        ),
      ];
    }
    if (res.status === 403) {
      return [
        problem(
          NAME,
          `the key may not use the Local API: ${answer}`,
          'enable Kakao Map (Local API) for the app in developers.kakao.com',
        ),
      ];
    }
    if (res.status === 429) {
      return [
        problem(NAME, `the daily quota is used up: ${answer}`, 'wait for the quota to reset, or raise it'),
      ];
    }
    return [problem(NAME, answer, 'check KAKAO_API_URL; retry later if Kakao is having trouble')];
  },
};
