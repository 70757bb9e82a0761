import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SegmentIndex } from '../../../src/activities/complaints-match';

describe('the segment index', () => {
  // Along the parallel 37.5° N, 0.001° of longitude is 88.2 m; along a meridian, 0.001° of latitude is 111.2 m.
  const index = SegmentIndex.build([
    { sId: 'WEST', lon: 127.0, lat: 37.5 },
    { sId: 'EAST', lon: 127.002, lat: 37.5 },
    { sId: 'NORTH', lon: 127.001, lat: 37.502 },
  ]);

  it('finds the nearest centroid by great-circle distance, in metres', () => {
    const west = index.nearest(127.0009, 37.5, 500);
    assert.equal(west?.sId, 'WEST');
    assert.ok(Math.abs(west!.distanceM - 79.4) < 0.5, String(west?.distanceM));
    assert.equal(index.nearest(127.0011, 37.5, 500)?.sId, 'EAST');
    assert.equal(index.nearest(127.001, 37.5015, 500)?.sId, 'NORTH');
  });

  it('finds nothing beyond the distance', () => {
    assert.equal(index.nearest(127.0009, 37.5, 79), undefined);
    assert.equal(index.nearest(127.0009, 37.5, 80)?.sId, 'WEST');
    assert.equal(index.nearest(128.0, 36.0, 500), undefined);
  });

  it('an empty network matches nothing', () => {
    const empty = SegmentIndex.build([]);
    assert.equal(empty.size, 0);
    assert.equal(empty.nearest(127.0, 37.5, 500), undefined);
  });
});
