// Step 3: the release's images onto the droplet, then their local ids and registry digests
// (what the release pins). `registry`: each image pulled and inspected in one command, up
// to 3 at once over the one connection (lib/images pullAndInspect); `transfer` / `none`:
// one inspect of them all.

import type { Logger } from '../../lib/action/logger.js';
import { type InspectedImage, inspectImages, pullAndInspect } from '../../lib/images/registry.js';
import type { RemoteHost } from '../../lib/ssh/executor.js';
import type { Inputs } from './inputs.js';
import type { ImageTransfer } from './types.js';

export interface Delivered {
  found: Map<string, InspectedImage>;
  missing: string[];
}

export interface DeliverOptions {
  inputs: Pick<Inputs, 'images' | 'timeoutMs'>;
  /** DOCKER_CONFIG folder holding the registry credentials (unpacked with the release), if any. */
  dockerConfigDir?: string;
  transfer?: ImageTransfer;
  log: Logger;
  onLine: (line: string) => void;
}

/** Throws ImageDeliveryError (pull failed) or the transfer's error; missing images are returned. */
export async function deliverImages(host: RemoteHost, refs: readonly string[], o: DeliverOptions): Promise<Delivered> {
  if (o.inputs.images !== 'registry') {
    if (o.inputs.images === 'transfer') {
      const sent = await (o.transfer as ImageTransfer).send(host, refs, o.log);
      o.log.info(`transfer: ${sent.bytesSent} bytes sent`);
    }
    return inspectImages(host, refs);
  }
  const found = await pullAndInspect(host, refs, {
    timeoutMs: o.inputs.timeoutMs,
    onLine: o.onLine,
    ...(o.dockerConfigDir ? { dockerConfigDir: o.dockerConfigDir } : {}),
  });
  return { found, missing: [] };
}
