// A spatial transformer (STN) drawn its own way: the sampling grid it predicted over the photo
// (GridOverlay, in the image view: each line a row or column of the output, the thick outline
// where the output's border reads), and in the side panel its theta in words and the photo
// warped by the same grid (what the transformer crops the image to).
import { useEffect, useMemo, useRef, useState } from 'react';
import type { ImageTransform } from '../../engine/protocol';
import type { MapData } from '../lib/heatmap';
import { describeAffine, gridLines, gridPoint, warpPhoto } from '../lib/sampling';
import { useApp } from '../store';
import { selectCurrentImage, selectFocusedModule } from '../store/selectors';

export function GridOverlay({ grid, transform }: { grid: MapData; transform: ImageTransform }) {
  const { lines, outline } = useMemo(() => gridLines(grid, transform), [grid, transform]);
  const origin = gridPoint(grid, transform, 0, 0);
  const path = (pts: Array<{ x: number; y: number }>) => pts.map((p, i) => `${i ? 'L' : 'M'}${p.x.toFixed(2)},${p.y.toFixed(2)}`).join('');
  return (
    <svg className="grid-overlay" data-testid="grid-overlay" viewBox={`0 0 ${transform.origWidth} ${transform.origHeight}`} preserveAspectRatio="none">
      {lines.map((l, i) => <path key={i} d={path(l)} className="mesh" vectorEffect="non-scaling-stroke" />)}
      <path d={`${path(outline)}Z`} className="outline" vectorEffect="non-scaling-stroke" data-testid="grid-outline" />
      <circle cx={origin.x} cy={origin.y} r={Math.max(transform.origWidth, transform.origHeight) / 90} className="origin" />
    </svg>
  );
}

const CROP = 200;

export function TransformPanel() {
  const m = useApp(selectFocusedModule);
  const taps = useApp((s) => (m ? s.run.taps[m.name] ?? null : null));
  const transform = useApp((s) => s.run.transform);
  const image = useApp(selectCurrentImage);
  const running = useApp((s) => s.run.status === 'running');
  const ref = useRef<HTMLCanvasElement>(null);
  const [photo, setPhoto] = useState<{ url: string; data: ImageData } | null>(null);

  // The photo's pixels, once per image (the object URL is same-origin).
  useEffect(() => {
    const url = image?.url;
    if (!url || photo?.url === url) return;
    let live = true;
    const img = new Image();
    img.onload = () => {
      if (!live) return;
      const c = document.createElement('canvas');
      c.width = img.naturalWidth;
      c.height = img.naturalHeight;
      const ctx = c.getContext('2d');
      if (!ctx) return;
      ctx.drawImage(img, 0, 0);
      setPhoto({ url, data: ctx.getImageData(0, 0, c.width, c.height) });
    };
    img.src = url;
    return () => { live = false; };
  }, [image?.url, photo?.url]);

  const grid = taps?.grid ?? null;
  const [gh, gw] = (grid?.shape ?? [1, 1]) as [number, number];
  const width = gw >= gh ? CROP : Math.round((CROP * gw) / gh);
  const height = gw >= gh ? Math.round((CROP * gh) / gw) : CROP;
  useEffect(() => {
    const c = ref.current;
    const ctx = c?.getContext('2d');
    if (!c || !ctx || !grid || !transform || !photo || photo.url !== image?.url) return;
    if (photo.data.width !== transform.origWidth || photo.data.height !== transform.origHeight) return;
    const pixels = warpPhoto({ data: photo.data.data, width: photo.data.width, height: photo.data.height }, grid, transform, width, height);
    const out = ctx.createImageData(width, height);
    out.data.set(pixels);
    ctx.putImageData(out, 0, 0);
    c.dataset.painted = String(Number(c.dataset.painted ?? '0') + 1);
  }, [grid, transform, photo, image?.url, width, height]);

  if (!m) return null;
  if (!grid) return <div className="placeholder">{running ? 'Waiting for the run…' : 'Open an image to see where the transformer samples.'}</div>;
  // An imported grid need not be affine (a flow field): then there is no theta, only the grid.
  const theta = taps?.affine ? Array.from(taps.affine.data) : null;
  const d = theta ? describeAffine(theta) : null;
  const pct = (v: number) => `${(v * 100).toFixed(1)}%`;
  return (
    <div className="transform-panel" data-testid="transform-panel">
      {theta && d ? (
        <>
          <table className="theta mono" aria-label="theta">
            <tbody>
              {[0, 1].map((r) => <tr key={r}>{[0, 1, 2].map((c) => <td key={c}>{(theta[r * 3 + c] as number).toFixed(3)}</td>)}</tr>)}
            </tbody>
          </table>
          <dl className="kv" data-testid="transform-summary">
            <dt>Samples</dt><dd>{pct(d.area)} of the input{d.flipped ? ' (mirrored)' : ''}</dd>
            <dt>Rotation</dt><dd>{d.rotation.toFixed(1)}°</dd>
            <dt>Scale</dt><dd>{d.scaleX.toFixed(2)} × {Math.abs(d.scaleY).toFixed(2)}</dd>
            <dt>Shift</dt><dd>{pct(Math.abs(d.shiftX))} {d.shiftX < 0 ? 'left' : 'right'}, {pct(Math.abs(d.shiftY))} {d.shiftY < 0 ? 'up' : 'down'}</dd>
          </dl>
        </>
      ) : (
        <div className="hint" data-testid="transform-no-theta">This grid is not made from an affine theta (none was found upstream of it): the mesh on the photo and the warp below are the whole transform.</div>
      )}
      <div className="crop">
        <canvas ref={ref} width={width} height={height} data-testid="warped-crop" aria-label="The photo warped by the transformer's grid" />
        <div className="hint">The photo on the transformer's grid: what the next layer sees</div>
      </div>
    </div>
  );
}
