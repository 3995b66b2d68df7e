export { createApp } from './app.js';
export { type AppConfig, type AppDeps, type AppEnv, DEFAULT_CONFIG } from './app-deps.js';
export { ApiError, type ErrorCode } from './errors.js';
export { Metrics } from './metrics.js';
export {
  assemble,
  openStore,
  type RunningServer,
  type ServeOptions,
  StartupError,
  startServer,
} from './node-server.js';
export { DEFAULT_PROJECT_ID, Projects } from './projects.js';
export { RateLimiter } from './rate-limit.js';
export { WriteBuffer } from './write-buffer.js';
