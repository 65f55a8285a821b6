// How the attention graph names its inputs and outputs (DESIGN.md vocabulary): one place,
// used by the emitters, both runtimes and the session.

import type { TapName } from '../types';

/** The network input: float32 [N, 3, H, W], normalised, NCHW as PyTorch. */
export const INPUT = 'input';
/** Class scores [N, numClasses]. */
export const LOGITS = 'logits';
/** The last stage's output [N, C, h, w] before pooling (class-activation methods). */
export const FEATURES = 'features';

/** A stage's output [N, C, h, w] (after the blocks inserted after it): `layer1`..`layer3`; layer4's is FEATURES. */
export const stageOutput = (stage: number): string => (stage === 4 ? FEATURES : `layer${stage}`);

/** A tap output: `<module>.<tap>`, with the batch dimension first. */
export const tapOutput = (module: string, tap: TapName): string => `${module}.${tap}`;
/** A bool scalar input: true switches the module off for the run (DESIGN.md "Bypass"). */
export const bypassInput = (module: string): string => `${module}.bypass`;
/** What entered the module [N, C, H, W] (channel maps). */
export const moduleInputOutput = (module: string): string => `${module}.input`;
/** A non-local affinity [N, queries, keys]. */
export const affinityOutput = (module: string): string => `${module}.affinity`;
/** Step k (1-based) of a multi-pass affinity (CCNet's pass 1), the same shape as the affinity. */
export const affinityStepOutput = (module: string, k: number): string => `${module}.affinity${k}`;
/** int64 [R]: query indices whose affinity rows `<module>.affinity_rows` computes (runners feed [0] when none are asked for). */
export const QUERY_ROWS_SUFFIX = '.query_rows';
export const queryRowsInput = (module: string): string => `${module}${QUERY_ROWS_SUFFIX}`;
/** The affinity rows [N, R, keys] of the `<module>.query_rows` queries, computed alone (no whole affinity). */
export const affinityRowsOutput = (module: string): string => `${module}.affinity_rows`;
