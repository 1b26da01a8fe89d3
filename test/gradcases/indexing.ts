import type { GradCase } from '../gradcheck.js';

export const indexingCases: GradCase[] = [];
