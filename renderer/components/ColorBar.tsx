import { cssGradient, type Colormap } from '../lib/colormap';
import type { Range } from '../lib/heatmap';
import { formatValue } from '../lib/range';

export function ColorBar({ colormap, range, caption }: { colormap: Colormap; range: Range; caption: string }) {
  const mid = (range.min + range.max) / 2;
  return (
    <div className="colorbar" data-testid="colorbar" aria-label={`Colour scale ${formatValue(range.min)} to ${formatValue(range.max)}`}>
      <div className="cap">{caption}</div>
      <div className="bar" style={{ background: cssGradient(colormap) }} />
      <div className="ticks">
        <span>{formatValue(range.max)}</span>
        <span>{formatValue(mid)}</span>
        <span>{formatValue(range.min)}</span>
      </div>
    </div>
  );
}
