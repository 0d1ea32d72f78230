import type { Logger } from '../action/logger.js';
import type { RemoteHost } from '../ssh/executor.js';

/** `transfer` delivery: sends local images, only the layers the droplet lacks. */
export class LocalDockerTransfer {
  send(host: RemoteHost, refs: readonly string[], log: Logger): Promise<{ bytesSent: number }> {
    log.debug(`transfer of ${refs.join(', ')} to ${host.label}`);
    return Promise.reject(new Error('transfer delivery is not implemented yet'));
  }
}
