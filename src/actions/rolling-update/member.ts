import type { FleetMember } from '../../lib/rollout/fleet.js';
import type { HostTarget } from '../../lib/ssh/target.js';

/** One droplet of the roll-out and how to reach it. */
export interface Member extends FleetMember {
  target: HostTarget;
  /** From the API (swarm: the address to advertise). */
  privateIpv4?: string;
  publicIpv4?: string;
}
