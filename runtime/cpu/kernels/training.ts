import { registerCpuKernel } from '../registry.js';
void registerCpuKernel;
