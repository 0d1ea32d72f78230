export { createClient, DigitalOceanClient, type ClientOptions, type DropletActionType } from './client.js';
export { DEFAULT_API_ENDPOINT, normalizeApiEndpoint } from './endpoint.js';
export { ActionFailedError, ActionTimeoutError, DigitalOceanApiError, isNotFound } from './errors.js';
export { DEFAULT_RETRY_POLICY, type RetryPolicy } from './http.js';
export { waitForAction, type WaitForActionOptions } from './wait.js';
export * from './types.js';
