import type { GradCase } from '../gradcheck.js';

export const conv3dCases: GradCase[] = [];
