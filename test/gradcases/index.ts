import type { GradCase } from '../gradcheck.js';
// Each op family contributes its finite-difference cases from its own file.
import { mathCases } from './math.js';
import { arrayCases } from './array.js';
import { nnCases } from './nn.js';

export const allGradCases: GradCase[] = [...mathCases, ...arrayCases, ...nnCases];
