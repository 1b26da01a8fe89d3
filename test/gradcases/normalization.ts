import type { GradCase } from '../gradcheck.js';

export const normalizationCases: GradCase[] = [];
