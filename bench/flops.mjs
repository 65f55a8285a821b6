// Analytic FLOP count of a NetSpec (engine/nets/spec.ts) at a square input size: the
// multiply-adds of every convolution and linear layer, x2. This is what the physical-floor
// line of the forward benchmark divides by the machine's peak. Elementwise work (ReLU,
// sigmoid, pooling, gating, BN after folding) is left out: it is memory-bound, not
// FLOP-bound, and small. Non-local affinity matmuls are counted separately (`matmul`).
// bench/torch_forward.py counts the same conv/linear quantity with forward hooks; the
// forward benchmark prints both so a disagreement shows.

const conv = (hOut, wOut, cin, cout, k) => hOut * wOut * cout * cin * k * k;
const out = (size, k, s, p, d = 1) => Math.floor((size + 2 * p - d * (k - 1) - 1) / s) + 1;

/** @returns {{ conv: number, matmul: number, total: number }} FLOPs (not MACs). */
export function countFlops(spec, size) {
  let macs = 0;
  let matmul = 0;
  const base = spec.baseWidth ?? 64;
  let h = size;
  let w = size;
  let c = base;
  if (spec.stem === 'imagenet') {
    h = out(h, 7, 2, 3); w = out(w, 7, 2, 3);
    macs += conv(h, w, 3, base, 7);
    h = out(h, 3, 2, 1); w = out(w, 3, 2, 1);
  } else {
    macs += conv(h, w, 3, base, 3);
  }
  const bottleneck = spec.block === 'bottleneck';
  const expansion = bottleneck ? 4 : 1;
  const att = spec.attention ?? { kind: 'none' };
  for (let k = 0; k < 4; k++) {
    const planes = base * 2 ** k;
    const count = spec.layers[k];
    for (let i = 0; i < count; i++) {
      const stride = i === 0 ? (spec.strides ?? [1, 2, 2, 2])[k] : 1;
      const ho = out(h, 3, stride, 1);
      const wo = out(w, 3, stride, 1);
      const cout = planes * expansion;
      if (bottleneck) {
        macs += conv(h, w, c, planes, 1);
        macs += conv(ho, wo, planes, planes, 3);
        macs += conv(ho, wo, planes, cout, 1);
      } else {
        macs += conv(ho, wo, c, planes, 3);
        macs += conv(ho, wo, planes, planes, 3);
      }
      if (stride !== 1 || c !== cout) macs += conv(ho, wo, c, cout, 1);
      macs += blockAttentionMacs(att, cout, ho, wo);
      h = ho; w = wo; c = cout;
    }
    for (const ins of spec.inserts ?? []) {
      if (ins.after !== k + 1) continue;
      const r = insertedMacs(ins, c, h, w);
      macs += r.macs;
      matmul += r.matmul;
    }
  }
  macs += c * spec.numClasses;
  return { conv: 2 * macs, matmul: 2 * matmul, total: 2 * (macs + matmul) };
}

function blockAttentionMacs(att, ch, h, w) {
  if (att.kind === 'none') return 0;
  const hidden = Math.floor(ch / (att.reduction ?? 16));
  if (att.kind === 'cbam') {
    // Shared MLP on the avg- and the max-pooled vector (2 passes), 7x7 conv 2 -> 1.
    return 2 * (ch * hidden + hidden * ch) + conv(h, w, 2, 1, 7);
  }
  if (att.kind === 'se') return ch * hidden + hidden * ch;
  if (att.kind === 'gc') return gcMacs(ch, h, w, att.reduction ?? 16);
  throw new Error(`flops: unknown block attention ${att.kind}`);
}

function gcMacs(ch, h, w, reduction) {
  const hidden = Math.floor(ch / reduction);
  // mask conv C -> 1 on every position, transform C -> C/r -> C on the context vector.
  // (The context pooling is a [1, HW] x [HW, C] product: elementwise-sized, left out.)
  return conv(h, w, ch, 1, 1) + ch * hidden + hidden * ch;
}

function insertedMacs(ins, ch, h, w) {
  if (ins.kind === 'gc') return { macs: gcMacs(ch, h, w, ins.reduction ?? 16), matmul: 0 };
  if (ins.kind === 'bam') {
    const hidden = Math.floor(ch / (ins.reduction ?? 16));
    const d = ins.dilation ?? 4;
    const ho = out(h, 3, 1, d, d);
    const wo = out(w, 3, 1, d, d);
    return {
      macs: ch * hidden + hidden * ch + conv(h, w, ch, hidden, 1) + 2 * conv(ho, wo, hidden, hidden, 3) + conv(ho, wo, hidden, 1, 1),
      matmul: 0,
    };
  }
  if (ins.kind === 'nonlocal') {
    const inter = Math.max(1, Math.floor(ch / 2));
    const n = h * w;
    const nk = ins.subSample ? Math.floor(h / 2) * Math.floor(w / 2) : n;
    // theta, phi, g (on the full grid; pooling comes after the conv) and W.
    let macs = 3 * conv(h, w, ch, inter, 1) + conv(h, w, inter, ch, 1);
    if (ins.mode === 'concat') macs += n * nk * 2 * inter; // concat_project over every pair
    if (ins.mode === 'gaussian') macs -= 2 * conv(h, w, ch, inter, 1); // no theta/phi convs
    // f = theta^T phi ([N, inter] x [inter, Nk]) except concat; y = f g ([N, Nk] x [Nk, inter]).
    const matmul = (ins.mode === 'concat' ? 0 : n * nk * (ins.mode === 'gaussian' ? ch : inter)) + n * nk * inter;
    return { macs, matmul };
  }
  throw new Error(`flops: unknown inserted block ${ins.kind}`);
}
