import * as tf from '../../src/index.js';
import * as image from '../../src/api/image.js';
import type { GradCase } from '../gradcheck.js';
import { randomArray } from '../helpers.js';

const r = (shape: number[], seed: number) => randomArray(shape, { seed });
const MODES = [
  { alignCorners: false, halfPixelCenters: false },
  { alignCorners: true, halfPixelCenters: false },
  { alignCorners: false, halfPixelCenters: true },
];

/** Boxes whose sampling points stay away from pixel edges under finite differences (image 5x6, crops 3x4). */
const BOXES = new tf.NDArray(Float32Array.from([0.12, 0.21, 0.83, 0.88, 0.07, 0.33, 0.61, 0.52]), [2, 4]);
const BOX_IND = new tf.NDArray(Int32Array.from([1, 0]), [2]);

export const imageCases: GradCase[] = [
  ...MODES.flatMap((mode): GradCase[] => [
    {
      ops: ['ResizeBilinear'],
      name: `resizeBilinear up and down ${JSON.stringify(mode)}`,
      inputs: [r([2, 3, 4, 2], 601)],
      build: (x) => [image.resizeBilinear(x!, [5, 3], mode), image.resizeBilinear(x!, [2, 7], mode)],
    },
    {
      ops: ['ResizeNearestNeighbor'],
      name: `resizeNearestNeighbor up and down ${JSON.stringify(mode)}`,
      inputs: [r([1, 4, 3, 2], 602)],
      build: (x) => [image.resizeNearestNeighbor(x!, [7, 5], mode), image.resizeNearestNeighbor(x!, [3, 2], mode)],
    },
  ]),
  {
    ops: ['CropAndResize'],
    name: 'cropAndResize bilinear wrt image and boxes',
    inputs: [r([2, 5, 6, 2], 603), BOXES, BOX_IND],
    build: (x, b, bi) => image.cropAndResize(x!, b!, bi!, [3, 4]),
  },
  {
    ops: ['CropAndResize'],
    name: 'cropAndResize nearest wrt image; a 1x1 crop (box centers)',
    inputs: [r([2, 5, 6, 2], 604), BOXES, BOX_IND],
    build: (x, b, bi) => [image.cropAndResize(x!, b!, bi!, [3, 4], { method: 'nearest' }), image.cropAndResize(x!, b!, bi!, [1, 1])],
    wrt: [0],
  },
  ...(['NEAREST', 'BILINEAR'] as const).flatMap((interpolation) =>
    (['CONSTANT', 'REFLECT', 'WRAP', 'NEAREST'] as const).map(
      (fillMode): GradCase => ({
        ops: ['ImageProjectiveTransformV2', 'ImageProjectiveTransformV3'],
        name: `transform ${interpolation} ${fillMode} wrt images (V2 and V3)`,
        inputs: [r([2, 4, 5, 2], 605), new tf.NDArray(Float32Array.from([0.83, -0.21, 1.37, 0.18, 1.09, -0.63, 0.013, -0.021, 1.1, 0, -1.31, 0, 0.9, 1.27, 0, 0]), [2, 8])],
        build: (x, t) => [image.transform(x!, t!, { interpolation, fillMode }), image.transform(x!, t!, { interpolation, fillMode, fillValue: 0.5, outputShape: [6, 3] })],
        wrt: [0],
      }),
    ),
  ),
];
