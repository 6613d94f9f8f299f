/** The api service: accounts, sessions, key directory, profiles, contacts. */
export { buildApp, type AppDeps } from './app.js';
export { loadConfig, ApiEnv, type ApiConfig } from './config.js';
export { ApiError } from './errors.js';
