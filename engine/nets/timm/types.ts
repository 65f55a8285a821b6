// What a timm family emitter returns: the plain network as an ONNX graph whose node names
// carry timm's module paths as exporter scopes (`/layer1/layer1.0/se/Mul`), so engine/import
// finds and names its attention exactly as in an exported .onnx of the same model.

import type { OnnxTypes } from '../../graph/onnx';

/** The graph output holding the class scores (the stage outputs come before it). */
export const FAMILY_LOGITS = 'output';

export interface FamilyGraph {
  model: OnnxTypes.ModelProto;
  family: string;
  description: string;
  unusedKeys: string[];
  /** What the weights could not tell and the emitter assumed. */
  assumptions: string[];
  /**
   * Class evidence (engine/cam.ts): the four stages whose outputs are `layer1`..`layer3` and
   * `features` in the graph (graph/names.ts stageOutput), by timm's module names.
   */
  stages: [string, string, string, string];
  /** The classifier's weight [classes, channels of `features`] when it follows global pooling directly (CAM), else null. */
  fcWeight: Float32Array | null;
  /** A fixed input size (relative position tables sized for one feature grid), else undefined. */
  fixedInputSize?: number;
}
