// Step 3: the release's images onto the droplet, then their local ids and registry digests
// (what the release pins). `registry`: each image pulled and inspected in one command, up
// to 3 at once over the one connection; `transfer` / `none`: one inspect of them all.

import { errorMessage } from '../../lib/action/errors.js';
import type { Logger } from '../../lib/action/logger.js';
import { and, cmd, or, type Script } from '../../lib/commands/cmd.js';
import { ImageDeliveryError, type InspectedImage, inspectImages, pullScript } from '../../lib/images/registry.js';
import type { RemoteHost } from '../../lib/ssh/executor.js';
import type { Inputs } from './inputs.js';
import type { ImageTransfer } from './types.js';

const INSPECT_FORMAT = '{{.Id}} {{json .RepoDigests}}';

function inspectOne(ref: string): Script {
  return cmd('docker', 'image', 'inspect', '--format', INSPECT_FORMAT, ref);
}

/** Pull, then inspect; a digest reference already on the droplet is not pulled again. */
export function pullAndInspectScript(ref: string, dockerConfigDir?: string): Script {
  const pull = and(pullScript(ref, dockerConfigDir), inspectOne(ref));
  return ref.includes('@sha256:') ? or(inspectOne(ref), pull) : pull;
}

/** `<id> <json RepoDigests>` → the image (the last line of the command's output). */
export function parseInspectLine(ref: string, output: string): InspectedImage | undefined {
  const line = output.trim().split('\n').pop()?.trim() ?? '';
  const m = /^(sha256:[0-9a-f]{64})(?: (.*))?$/.exec(line);
  if (!m) return undefined;
  let repoDigests: string[] = [];
  try {
    const parsed = JSON.parse(m[2] ?? '[]') as unknown;
    if (Array.isArray(parsed)) repoDigests = parsed.filter((d): d is string => typeof d === 'string');
  } catch {
    // no digests (a loaded or locally built image)
  }
  return { ref, id: m[1] as string, repoDigests };
}

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
  const found = new Map<string, InspectedImage>();
  const pullOne = async (ref: string): Promise<void> => {
    o.onLine(`pulling ${ref}`);
    const r = await host.run(pullAndInspectScript(ref, o.dockerConfigDir), {
      allowFailure: true,
      timeoutMs: o.inputs.timeoutMs,
      onLine: (line, stream) => {
        if (stream === 'stderr') o.onLine(line);
      },
    });
    const image = r.code === 0 ? parseInspectLine(ref, r.stdout) : undefined;
    if (!image) {
      const why = (r.stderr.trim() || r.stdout.trim()).split('\n').slice(-3).join(' ');
      throw new ImageDeliveryError(ref, `pulling image ${ref} failed: ${why || `exit ${r.code}`}`);
    }
    o.onLine(`${ref}: ${image.id.slice(0, 19)}`);
    found.set(ref, image);
  };
  // up to 3 pulls at once over the one connection (as `docker compose pull` does)
  for (let i = 0; i < refs.length; i += 3) {
    const results = await Promise.allSettled(refs.slice(i, i + 3).map(pullOne));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason instanceof Error ? failed.reason : new Error(errorMessage(failed.reason));
  }
  return { found, missing: [] };
}
