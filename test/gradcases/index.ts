import type { GradCase } from '../gradcheck.js';
// Each op family contributes its finite-difference cases from its own file.
import { coreCases } from './core.js';
import { mathCases } from './math.js';
import { arrayCases } from './array.js';
import { nnCases } from './nn.js';
import { convCases } from './conv.js';
import { nnExtraCases } from './nn_extra.js';
import { compatCases } from './compat.js';
import { controlFlowCases } from './control_flow.js';
import { sortCases } from './sort.js';
import { indexingCases } from './indexing.js';
import { conv3dCases } from './conv3d.js';
import { normalizationCases } from './normalization.js';
import { imageCases } from './image.js';
import { debugCases } from './debug.js';
import { linalgCases } from './linalg.js';
import { sparseCases } from './sparse.js';
import { spectralCases } from './spectral.js';
import { tensorArrayV3GradCases } from './tensor_array_v3.js';
import { rnnCases } from './rnn.js';

export const allGradCases: GradCase[] = [...coreCases, ...mathCases, ...arrayCases, ...nnCases, ...convCases, ...nnExtraCases, ...compatCases, ...controlFlowCases, ...sortCases, ...indexingCases, ...conv3dCases, ...normalizationCases, ...imageCases, ...debugCases, ...linalgCases, ...sparseCases, ...tensorArrayV3GradCases, ...rnnCases, ...spectralCases];
