// Right panel, for a module with a channel-affinity matrix (DANet's channel attention, the
// `matrix` tap [C, C]): the matrix as an image (row = the channel being rebuilt, column = the
// channel it draws on), the value under the pointer, and the strongest channel pairs.
import { useEffect, useMemo, useRef, useState, type MouseEvent } from 'react';
import { dataRange, drawCells } from '../lib/heatmap';
import { strongestPairs } from '../lib/stats';
import { useApp } from '../store';
import { selectColormap, selectFocusedModule } from '../store/selectors';

const SIZE = 272;

export function MatrixView() {
  const m = useApp(selectFocusedModule);
  const matrix = useApp((s) => (m ? s.run.taps[m.name]?.matrix ?? null : null));
  const colormap = useApp(selectColormap);
  const running = useApp((s) => s.run.status === 'running');
  const canvas = useRef<HTMLCanvasElement>(null);
  const [hover, setHover] = useState<{ row: number; col: number } | null>(null);
  const n = matrix?.shape[0] ?? 0;
  const pairs = useMemo(() => (matrix ? strongestPairs(matrix.data, n, 5) : []), [matrix, n]);
  const range = useMemo(() => (matrix ? dataRange(matrix.data) : { min: 0, max: 1 }), [matrix]);

  useEffect(() => {
    const el = canvas.current;
    if (el && matrix) drawCells(el, matrix, range, colormap.lut);
  }, [matrix, range, colormap]);

  if (!m) return null;
  if (!matrix) return <div className="placeholder">{running ? 'Waiting for the run…' : 'Open an image to see its channel affinity.'}</div>;
  const at = (e: MouseEvent<HTMLCanvasElement>) => {
    const r = e.currentTarget.getBoundingClientRect();
    const col = Math.min(n - 1, Math.max(0, Math.floor(((e.clientX - r.left) / r.width) * n)));
    const row = Math.min(n - 1, Math.max(0, Math.floor(((e.clientY - r.top) / r.height) * n)));
    return { row, col };
  };
  const value = hover ? matrix.data[hover.row * n + hover.col] as number : null;
  return (
    <div data-testid="matrix-view">
      <canvas ref={canvas} className="matrix" style={{ width: SIZE, height: SIZE, imageRendering: 'pixelated', display: 'block', borderRadius: 4 }}
        role="img" aria-label={`Channel affinity of ${m.name}: ${n} x ${n}`}
        onMouseMove={(e) => setHover(at(e))} onMouseLeave={() => setHover(null)} />
      <div className="chart-hover">
        {hover && value !== null
          ? <>channel <b>{hover.row}</b> draws on <b>{hover.col}</b> · {value.toFixed(4)}</>
          : <span className="faint">row = channel rebuilt · column = channel it draws on · {range.min.toFixed(3)}–{range.max.toFixed(3)}</span>}
      </div>
      <div className="k faint" style={{ marginTop: 6 }}>Strongest pairs</div>
      <ol className="pairs" data-testid="matrix-pairs" style={{ margin: '4px 0 0', paddingLeft: 22, fontSize: 12, lineHeight: 1.6 }}>
        {pairs.map((p) => <li key={`${p.row}-${p.col}`}>channel {p.row} ← {p.col} <span className="faint">{p.value.toFixed(4)}</span></li>)}
      </ol>
    </div>
  );
}
