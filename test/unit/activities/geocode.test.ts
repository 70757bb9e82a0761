import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addressFromKakao } from '../../../src/activities/geocode';

const lot = { region_2depth_name: '중구', region_3depth_name: '태평로1가' };

test('the road address gives road_name and region_2depth_name', () => {
  const body = {
    documents: [{ road_address: { road_name: '세종대로', region_2depth_name: '중구' }, address: lot }],
  };
  assert.deepEqual(addressFromKakao(body), { roadName: '세종대로', district: '중구' });
});

test('without a road address, the lot address gives region_3depth_name and region_2depth_name', () => {
  assert.deepEqual(addressFromKakao({ documents: [{ road_address: null, address: lot }] }), {
    roadName: '태평로1가',
    district: '중구',
  });
});

test('a road address with an empty road name falls back to the lot address', () => {
  const body = {
    documents: [{ road_address: { road_name: ' ', region_2depth_name: '중구' }, address: lot }],
  };
  assert.deepEqual(addressFromKakao(body), { roadName: '태평로1가', district: '중구' });
});

test('no document, or no address at all, is no address', () => {
  assert.equal(addressFromKakao({ meta: { total_count: 0 }, documents: [] }), null);
  assert.equal(addressFromKakao({ documents: [{ road_address: null, address: null }] }), null);
  assert.equal(addressFromKakao(null), null);
  assert.equal(addressFromKakao({ errorType: 'InvalidArgument' }), null);
});
