import type { GradCase } from '../gradcheck.js';

export const nnCases: GradCase[] = [];
