import { registerOp } from './registry.js';
void registerOp;
