import type { NetSpec } from '../engine/nets/spec';
export function countFlops(spec: NetSpec, size: number): { conv: number; matmul: number; total: number };
