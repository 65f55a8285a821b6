// Colormaps come from the engine (HelloReply capabilities) so that the UI paints with
// exactly the LUTs the exporter uses. The gray ramp is the only built-in fallback.
export interface Colormap { name: string; lut: ArrayLike<number> }

export const GRAY: Colormap = {
  name: 'gray',
  lut: Array.from({ length: 256 * 3 }, (_, i) => Math.floor(i / 3)),
};

/** Display order in the picker; perceptually uniform ones first (viridis is the default). */
export const PREFERRED_ORDER = ['viridis', 'inferno', 'magma', 'turbo', 'jet', 'gray'];

export function sortColormaps(maps: Colormap[]): Colormap[] {
  const rank = (n: string) => { const i = PREFERRED_ORDER.indexOf(n); return i < 0 ? PREFERRED_ORDER.length : i; };
  const out = [...maps];
  if (!out.some((m) => m.name === 'gray')) out.push(GRAY);
  return out.sort((a, b) => rank(a.name) - rank(b.name));
}

export function findColormap(maps: Colormap[], name: string): Colormap {
  return maps.find((m) => m.name === name) ?? maps[0] ?? GRAY;
}

export function cssGradient(map: Colormap, direction = 'to top', stops = 16): string {
  const parts: string[] = [];
  for (let s = 0; s <= stops; s++) {
    const k = Math.round((s / stops) * 255);
    parts.push(`rgb(${map.lut[k * 3]}, ${map.lut[k * 3 + 1]}, ${map.lut[k * 3 + 2]}) ${((s / stops) * 100).toFixed(1)}%`);
  }
  return `linear-gradient(${direction}, ${parts.join(', ')})`;
}
