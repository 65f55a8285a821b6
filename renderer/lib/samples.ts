// Sample photos for the first screen. Vite bundles assets/samples/* into the renderer
// build (hashed file names next to the page), so the same relative URLs work from the
// web-mode server and from the Electron window without any engine round trip.
export interface Sample { name: string; url: string }

const files = import.meta.glob('../../assets/samples/*.{jpg,jpeg,png,webp,JPG,JPEG,PNG}', {
  query: '?url', import: 'default', eager: true,
}) as Record<string, string>;

export function bundledSamples(): Sample[] {
  return Object.entries(files)
    .map(([path, url]) => ({ name: path.slice(path.lastIndexOf('/') + 1), url }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

export async function fetchSample(sample: Sample): Promise<ArrayBuffer> {
  const res = await fetch(sample.url);
  if (!res.ok) throw new Error(`Could not read sample ${sample.name} (${res.status})`);
  return res.arrayBuffer();
}
