import { ConfigurationError } from '../action/errors.js';
import type { InputReader } from '../action/inputs.js';
import { parseUrl } from '../action/parsers.js';
import { S3Store, type UploadTuning } from './store.js';

// The Spaces (S3-compatible) inputs, named as snapshot-and-backup names them:
// spaces-endpoint, spaces-bucket, spaces-prefix, spaces-access-key-id,
// spaces-secret-access-key, spaces-region.

export interface SpacesSettings {
  endpoint: string;
  bucket: string;
  /** Objects go under <prefix>/<dump name>/ (no leading or trailing slash). */
  prefix: string;
  accessKeyId: string;
  secretAccessKey: string;
  region?: string;
}

/**
 * Reads the Spaces inputs; each missing required one is a ConfigurationError naming it.
 * `why` says what needs them, e.g. `"backup-before" is true`.
 */
export function readSpacesInputs(r: InputReader, app: string, why?: string): SpacesSettings {
  const need = (name: string): string => {
    if (!r.has(name) && why) throw new ConfigurationError(`input "${name}" is required when ${why}`);
    return r.required(name);
  };
  const endpoint = parseUrl('spaces-endpoint', need('spaces-endpoint')).toString().replace(/\/$/, '');
  const region = r.optional('spaces-region');
  return {
    endpoint,
    bucket: need('spaces-bucket'),
    prefix: r.string('spaces-prefix', `droplet-deploy/${app}`).replace(/^\/+|\/+$/g, ''),
    accessKeyId: need('spaces-access-key-id'),
    secretAccessKey: need('spaces-secret-access-key'),
    ...(region ? { region } : {}),
  };
}

export function spacesStore(spaces: SpacesSettings, tuning?: UploadTuning): S3Store {
  return new S3Store({
    endpoint: spaces.endpoint,
    bucket: spaces.bucket,
    accessKeyId: spaces.accessKeyId,
    secretAccessKey: spaces.secretAccessKey,
    ...(spaces.region ? { region: spaces.region } : {}),
    ...(tuning ? { tuning } : {}),
  });
}
