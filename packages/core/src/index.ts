export * from './activity.js';
export * from './derive.js';
export * from './ids.js';
export * from './lifecycle.js';
export * from './schemas.js';
export * from './types.js';
export * from './wire.js';
