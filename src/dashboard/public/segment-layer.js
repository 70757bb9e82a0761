// Every segment of the day as a circle on one Leaflet canvas layer. A circleMarker per segment costs Leaflet an
// object, events and a projection each: 100,000 of them take seconds to add. Here the segments live in typed
// arrays, are projected once per zoom with the same Web Mercator as Leaflet's map, and are drawn as a dozen
// batched paths (one per colour and status), riskier bands on top, then one ring around every segment whose
// repair did not hold (재발). Clicks find the nearest circle.

const WORLD = 256; // pixels of the whole world at zoom 0, as Leaflet's EPSG:3857
const MAX_LAT = 85.0511287798;
const PADDING = 0.3; // the canvas reaches this share of the view beyond each side, so a drag shows circles

export const SegmentLayer = L.Layer.extend({
  initialize(data, style) {
    // { bandOf(risk) -> index, bands: [{color}], radius(impacts), statuses: [{...}], ring: {color, width, gap} }
    this._style = style;
    this.setData(data);
  },

  /** data: { ids, lat, lon, risk, impacts, status, recurred } columns of equal length (recurred: 1 for 재발). */
  setData(data) {
    const n = data.ids.length;
    this.ids = data.ids;
    this.index = new Map(data.ids.map((id, i) => [id, i]));
    this._mx = new Float64Array(n);
    this._my = new Float64Array(n);
    this._r = new Float32Array(n);
    this._band = new Uint8Array(n);
    this.status = new Uint8Array(n);
    this.recurred = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const lat = Math.max(-MAX_LAT, Math.min(MAX_LAT, data.lat[i]));
      const sin = Math.sin((lat * Math.PI) / 180);
      this._mx[i] = (data.lon[i] + 180) / 360;
      this._my[i] = 0.5 - Math.log((1 + sin) / (1 - sin)) / (4 * Math.PI);
      this._r[i] = this._style.radius(data.impacts[i]);
      this._band[i] = this._style.bandOf(data.risk[i]);
      this.status[i] = data.status[i] ?? 0;
      this.recurred[i] = data.recurred?.[i] ?? 0;
    }
    this.count = n;
    this.drawn = 0;
    if (this._map) this._redraw();
  },

  setStatus(id, statusIndex) {
    const i = this.index.get(id);
    if (i === undefined) return;
    this.status[i] = statusIndex;
    this._redraw();
  },

  /** Marks (or unmarks) a segment as one whose repair did not hold. */
  setRecurred(id, recurred) {
    const i = this.index.get(id);
    if (i === undefined) return;
    this.recurred[i] = recurred ? 1 : 0;
    this._redraw();
  },

  latLngOf(id) {
    const i = this.index.get(id);
    if (i === undefined) return null;
    const lat = (Math.atan(Math.sinh(Math.PI * (1 - 2 * this._my[i]))) * 180) / Math.PI;
    return L.latLng(lat, this._mx[i] * 360 - 180);
  },

  onAdd(map) {
    this._canvas = L.DomUtil.create('canvas', 'leaflet-zoom-hide segment-layer');
    this.getPane().appendChild(this._canvas);
    map.on('moveend zoomend resize viewreset', this._redraw, this);
    map.on('click', this._onClick, this);
    map.on('mousemove', this._onMove, this);
    this._redraw();
  },

  onRemove(map) {
    map.off('moveend zoomend resize viewreset', this._redraw, this);
    map.off('click', this._onClick, this);
    map.off('mousemove', this._onMove, this);
    this._canvas.remove();
  },

  /**
   * The canvas's frame: its size and position (the view plus padding), the world's size in pixels at this zoom,
   * and the projected pixel of the canvas's top-left corner and of the view's (container point 0,0).
   */
  _view() {
    const map = this._map;
    const viewSize = map.getSize();
    const pad = viewSize.multiplyBy(PADDING).round();
    const viewTopLeft = map.containerPointToLayerPoint([0, 0]);
    const topLeft = viewTopLeft.subtract(pad);
    const origin = map.getPixelOrigin();
    return {
      size: viewSize.add(pad.multiplyBy(2)),
      topLeft,
      scale: WORLD * Math.pow(2, map.getZoom()),
      x0: origin.x + topLeft.x,
      y0: origin.y + topLeft.y,
      viewX0: origin.x + viewTopLeft.x,
      viewY0: origin.y + viewTopLeft.y,
    };
  },

  _redraw() {
    if (!this._map) return;
    const v = this._view();
    const canvas = this._canvas;
    const ratio = window.devicePixelRatio || 1;
    canvas.width = v.size.x * ratio;
    canvas.height = v.size.y * ratio;
    canvas.style.width = `${v.size.x}px`;
    canvas.style.height = `${v.size.y}px`;
    L.DomUtil.setPosition(canvas, v.topLeft);
    const ctx = canvas.getContext('2d');
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    const { bands, statuses } = this._style;
    let drawn = 0;
    // One path per (band, status): low-risk bands first, so red circles are on top.
    for (let band = 0; band < bands.length; band++) {
      for (let status = 0; status < statuses.length; status++) {
        const s = statuses[status];
        ctx.beginPath();
        let any = false;
        for (let i = 0; i < this.count; i++) {
          if (this._band[i] !== band || this.status[i] !== status) continue;
          const x = this._mx[i] * v.scale - v.x0;
          const y = this._my[i] * v.scale - v.y0;
          const r = this._r[i];
          if (x < -r || y < -r || x > v.size.x + r || y > v.size.y + r) continue;
          ctx.moveTo(x + r, y);
          ctx.arc(x, y, r, 0, 2 * Math.PI);
          any = true;
          drawn++;
        }
        if (!any) continue;
        ctx.globalAlpha = s.fillOpacity;
        ctx.fillStyle = bands[band].color;
        ctx.fill();
        ctx.globalAlpha = 1;
        ctx.lineWidth = s.weight;
        ctx.strokeStyle = s.color ?? bands[band].color;
        ctx.setLineDash(s.dash ?? []);
        ctx.stroke();
      }
    }
    this._drawRings(ctx, v);
    this.drawn = drawn;
    this.fire('drawn', { drawn });
  },

  /** A ring just outside each 재발 segment's circle, on top of every circle, so it shows whatever its colour. */
  _drawRings(ctx, v) {
    const ring = this._style.ring;
    if (!ring) return;
    ctx.beginPath();
    let any = false;
    for (let i = 0; i < this.count; i++) {
      if (!this.recurred[i]) continue;
      const x = this._mx[i] * v.scale - v.x0;
      const y = this._my[i] * v.scale - v.y0;
      const r = this._r[i] + ring.gap;
      if (x < -r || y < -r || x > v.size.x + r || y > v.size.y + r) continue;
      ctx.moveTo(x + r, y);
      ctx.arc(x, y, r, 0, 2 * Math.PI);
      any = true;
    }
    if (!any) return;
    ctx.globalAlpha = 1;
    ctx.lineWidth = ring.width;
    ctx.strokeStyle = ring.color;
    ctx.setLineDash([]);
    ctx.stroke();
  },

  /** The segment under a container point (the nearest circle within its radius + 3 px), or null. */
  segmentAt(point) {
    const v = this._view();
    let best = -1;
    let bestD = Infinity;
    for (let i = 0; i < this.count; i++) {
      const dx = this._mx[i] * v.scale - v.viewX0 - point.x;
      const dy = this._my[i] * v.scale - v.viewY0 - point.y;
      const d = dx * dx + dy * dy;
      const reach = this._r[i] + 3;
      if (d <= reach * reach && d < bestD) {
        best = i;
        bestD = d;
      }
    }
    return best < 0 ? null : this.ids[best];
  },

  /** Where a segment is drawn, in container pixels (for tests and the list's "show on map"). */
  containerPointOf(id) {
    const i = this.index.get(id);
    if (i === undefined) return null;
    const v = this._view();
    return L.point(this._mx[i] * v.scale - v.viewX0, this._my[i] * v.scale - v.viewY0);
  },

  _onClick(e) {
    const id = this.segmentAt(e.containerPoint);
    if (id !== null) this.fire('segmentclick', { id, latlng: this.latLngOf(id) });
  },

  _onMove(e) {
    const now = performance.now();
    if (now - (this._lastMove ?? 0) < 60) return;
    this._lastMove = now;
    this._map.getContainer().style.cursor = this.segmentAt(e.containerPoint) === null ? '' : 'pointer';
  },
});
