import type { GradCase } from '../gradcheck.js';

export const sortCases: GradCase[] = [];
