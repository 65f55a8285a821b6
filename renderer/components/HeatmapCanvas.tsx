// Paints one map over the original image's extent through the engine's ImageTransform.
// Opacity is applied with CSS so the slider never repaints.
import { useEffect, useRef } from 'react';
import type { ImageTransform } from '../../engine/protocol';
import type { Colormap } from '../lib/colormap';
import { paintHeatmap, rasterSize, type Interpolation, type MapData, type Range } from '../lib/heatmap';

export interface HeatmapCanvasProps {
  map: MapData;
  transform: ImageTransform;
  range: Range;
  colormap: Colormap;
  interpolation: Interpolation;
  opacity: number;
  /** Longest side of the raster, in pixels. */
  cap?: number;
  onPainted?: () => void;
  testId?: string;
}

export function HeatmapCanvas({ map, transform, range, colormap, interpolation, opacity, cap = 768, onPainted, testId }: HeatmapCanvasProps) {
  const ref = useRef<HTMLCanvasElement>(null);
  const painted = useRef(onPainted);
  painted.current = onPainted;
  const { width, height } = rasterSize(transform.origWidth, transform.origHeight, cap);

  useEffect(() => {
    const canvas = ref.current;
    const ctx = canvas?.getContext('2d');
    if (!canvas || !ctx) return;
    const pixels = paintHeatmap(map, transform, width, height, range, colormap.lut, interpolation);
    const image = ctx.createImageData(width, height);
    image.data.set(pixels);
    ctx.putImageData(image, 0, 0);
    canvas.dataset.painted = String(Number(canvas.dataset.painted ?? '0') + 1);
    painted.current?.();
  }, [map, transform, width, height, range.min, range.max, colormap, interpolation]);

  return (
    <canvas
      ref={ref}
      width={width}
      height={height}
      className={interpolation === 'nearest' ? 'nearest' : undefined}
      style={{ opacity }}
      data-testid={testId}
      data-range={`${range.min},${range.max}`}
    />
  );
}
