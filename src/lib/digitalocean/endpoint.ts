import { ConfigurationError } from '../action/errors.js';

export const DEFAULT_API_ENDPOINT = 'https://api.digitalocean.com';

/**
 * The input `api-endpoint` as the base URL requests are made against, always ending in
 * `/v2` (no trailing slash). Accepted with or without the `/v2` and a trailing slash:
 * `https://api.digitalocean.com`, `https://api.digitalocean.com/v2/`, `http://127.0.0.1:4010/v2`.
 */
export function normalizeApiEndpoint(value: string, inputName = 'api-endpoint'): string {
  const raw = value.trim() || DEFAULT_API_ENDPOINT;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigurationError(`input "${inputName}" has ${JSON.stringify(value)}: not a valid URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new ConfigurationError(`input "${inputName}" has ${JSON.stringify(value)}: URL must use http or https`);
  }
  if (url.username || url.password || url.search || url.hash) {
    throw new ConfigurationError(
      `input "${inputName}" has ${JSON.stringify(value)}: give only scheme, host, port and path (no credentials, query or fragment)`,
    );
  }
  let path = url.pathname.replace(/\/+$/, '');
  if (!path.endsWith('/v2')) path = `${path}/v2`;
  return `${url.origin}${path}`;
}
