import type { GradCase } from '../gradcheck.js';

export const debugCases: GradCase[] = [];
