import type { GradCase } from '../gradcheck.js';

export const linalgCases: GradCase[] = [];
