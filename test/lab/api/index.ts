// The lab's DigitalOcean API fake (issue 3, items 3–5).
//
//   const fake = await startApiFake({ backend });
//   const api = createApiClient({ token: fake.token, endpoint: fake.url }); // dots-wrapper
//
// - HTTP on 127.0.0.1 (random port), routes under /v2, Bearer auth, DigitalOcean's error shape
//   `{id, message, request_id}`, `ratelimit-*` headers on every response.
// - Every request and response is validated against DigitalOcean's OpenAPI document (spec.ts); a
//   violation is recorded in the tally and fails the call (request → 422, response → 500, both with
//   id "lab_spec_violation").
// - Control endpoints (same bearer token, NOT part of the DigitalOcean API):
//     POST   /_lab/faults            body: a Fault (faults.ts) → 201 {id}
//     GET    /_lab/faults            → {faults}
//     DELETE /_lab/faults[/{id}]     → 204
//     GET    /_lab/tally             → {requests, responses, violations, stats}
//     POST   /_lab/tally/reset       → 204
//     GET    /_lab/load_balancers/{id}/health → {droplets: [{droplet_id, status, ...}]}
//       (DigitalOcean's API exposes no per-droplet health for load balancers; this is how tests
//        observe draining.)
//     GET    /_lab/droplets/{id}     → {container, publicIpv4, privateIpv4, status, variant}
// - Firewalls: rules are stored and returned, NOT enforced.
// - Images → droplet variants: debian-12-x64 (bookworm) → `bookworm`, everything else → `trixie`;
//   snapshots keep their source droplet's variant (catalog.ts).
import { ApiFake, type ApiFakeOptions, type Tally } from './fake.js';
import type { FaultControl } from './faults.js';
import type { MemberHealth } from './proxy.js';

export type { ApiFakeOptions, DatabaseOption, RegistryOption, Tally } from './fake.js';
export type { Reply } from './http.js';
export type { DropletBackend, DropletCreateSpec, DropletHandle } from './backend.js';
export { MemoryBackend } from './backend.js';
export type { MemoryBackendOptions } from './backend.js';
export type { Fault, FaultControl } from './faults.js';
export type { Violation } from './spec.js';
export { SpecValidator } from './spec.js';
export { md5Fingerprint } from './fake.js';

export interface ApiFakeHandle {
  /** Base URL including /v2, e.g. http://127.0.0.1:41234/v2 */
  url: string;
  /** Origin without /v2 (control endpoints live under /_lab/). */
  origin: string;
  token: string;
  faults: FaultControl;
  tally(): Tally;
  resetTally(): void;
  /** Validation cost figures: spec load, compile, per-validation time. */
  stats(): Record<string, number>;
  loadBalancerHealth(id: string): MemberHealth[];
  dropletInfo(id: number): ReturnType<ApiFake['dropletInfo']>;
  /** Stops proxies and the server; destroys droplets/snapshots it created unless told not to. */
  close(opts?: { destroyDroplets?: boolean }): Promise<void>;
  fake: ApiFake;
}

export async function startApiFake(opts: ApiFakeOptions): Promise<ApiFakeHandle> {
  const fake = new ApiFake(opts);
  await fake.listen();
  return {
    url: `${fake.baseUrl}/v2`,
    origin: fake.baseUrl,
    token: fake.token,
    faults: fake.faults,
    tally: () => fake.tally(),
    resetTally: () => fake.resetTally(),
    stats: () => fake.stats(),
    loadBalancerHealth: (id) => fake.loadBalancerHealth(id),
    dropletInfo: (id) => fake.dropletInfo(id),
    close: (o) => fake.close(o),
    fake,
  };
}
