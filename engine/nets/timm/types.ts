// What a timm family emitter returns: the plain network as an ONNX graph whose node names
// carry timm's module paths as exporter scopes (`/layer1/layer1.0/se/Mul`), so engine/import
// finds and names its attention exactly as in an exported .onnx of the same model.

import type { OnnxTypes } from '../../graph/onnx';

export interface FamilyGraph {
  model: OnnxTypes.ModelProto;
  family: string;
  description: string;
  unusedKeys: string[];
  /** What the weights could not tell and the emitter assumed. */
  assumptions: string[];
  /** A fixed input size (relative position tables sized for one feature grid), else undefined. */
  fixedInputSize?: number;
}
