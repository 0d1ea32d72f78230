import type { NodeSSH } from 'node-ssh';

import type { RemoteHost } from './executor.js';
import { connectWithRetry, NodeSshHost, type SshSettings } from './node-ssh-host.js';
import { endpointLabel, type HostTarget } from './target.js';

/** Opens RemoteHosts; the fake in test/support implements the same shape. */
export interface HostConnector {
  /** The one connection to this host for the action run (opened on first use). */
  connect(target: HostTarget): Promise<RemoteHost>;
  closeAll(): Promise<void>;
}

/**
 * One SSH connection per host per action run, shared by every step; one jump-host
 * connection shared by all targets behind it.
 */
export class SshPool implements HostConnector {
  private readonly hosts = new Map<string, Promise<NodeSshHost>>();
  private jump: Promise<NodeSSH> | undefined;

  constructor(private readonly settings: SshSettings) {}

  private key(t: HostTarget): string {
    return `${t.user}@${endpointLabel(t)}`;
  }

  private jumpConnection(): Promise<NodeSSH> {
    const jump = this.settings.jump;
    if (!jump) throw new Error('no jump host configured');
    this.jump ??= connectWithRetry(jump, this.settings).catch((error: unknown) => {
      this.jump = undefined;
      throw error;
    });
    return this.jump;
  }

  connect(target: HostTarget): Promise<RemoteHost> {
    const key = this.key(target);
    let host = this.hosts.get(key);
    if (!host) {
      host = connectWithRetry(target, this.settings, this.settings.jump ? () => this.jumpConnection() : undefined).then(
        (ssh) =>
          new NodeSshHost(ssh, target, this.settings, async () => {
            this.hosts.delete(key);
          }),
      );
      host.catch(() => this.hosts.delete(key));
      this.hosts.set(key, host);
    }
    return host;
  }

  async closeAll(): Promise<void> {
    const open = [...this.hosts.values()];
    this.hosts.clear();
    await Promise.allSettled(open.map(async (h) => (await h).close()));
    if (this.jump) {
      const jump = this.jump;
      this.jump = undefined;
      try {
        (await jump).dispose();
      } catch {
        /* never connected */
      }
    }
  }
}
