// rolling-update's replacement for deploy-compose's step 4: instead of `up -d` + wait, the
// release's services are rolled one by one (src/lib/rollout/droplet.ts). When a service
// fails, the services already rolled on this droplet are rolled back (start-first too), so
// the droplet stays on the previous release and deploy-compose does not switch `current`.
import { errorMessage } from '../../lib/action/errors.js';
import { type ComposeProject, configResolved } from '../../lib/compose/compose.js';
import { readServiceStates } from '../../lib/compose/state.js';
import { rolloutDroplet, ServiceRolloutError, type ServiceResult } from '../../lib/rollout/droplet.js';
import { type RemovedService, removeDropped } from '../../lib/rollout/dropped.js';
import { parseServiceFacts, type PlannedService, planServices, type ServiceFacts } from '../../lib/rollout/plan.js';
import type { RemoteHost } from '../../lib/ssh/executor.js';
import type { StartContext, StartOutcome } from '../deploy-compose/run.js';
import type { Inputs } from './inputs.js';

export interface StarterRecord {
  services: ServiceResult[];
  rolledBack?: ServiceResult[];
  /** Services the release no longer has, stopped and removed after its roll-out succeeded. */
  removed?: RemovedService[];
  /** Why removing them failed (the release itself is serving). */
  removeError?: string;
}

/** The services of a release's resolved config, its enabled profiles only. */
async function readFacts(host: RemoteHost, project: ComposeProject): Promise<ServiceFacts[]> {
  // The resolved config holds interpolated secrets: parsed here, never logged.
  const resolved = await host.run(configResolved(project), { timeoutMs: 120_000 });
  return parseServiceFacts(resolved.stdout, project.profiles ?? []);
}

/**
 * `accept` (the one-step deploy's health gate) runs once every service rolled and before the
 * services the release dropped are removed: those go only after the release is accepted. It
 * returns a failed outcome to refuse the release, or undefined to accept it.
 */
export function makeStarter(
  inputs: Inputs,
  records: Map<string, StarterRecord>,
  sleep?: (ms: number) => Promise<void>,
  accept?: (ctx: StartContext) => Promise<StartOutcome | undefined>,
): (ctx: StartContext) => Promise<StartOutcome> {
  return async (ctx) => {
    const options = (
      project: ComposeProject,
      previous: ComposeProject | undefined,
      services: PlannedService[],
      force: boolean,
    ) => ({
      app: inputs.deploy.app,
      next: project,
      ...(previous ? { previous } : {}),
      services,
      drainMs: inputs.drainMs,
      stopTimeoutSeconds: inputs.stopTimeoutSeconds,
      ...(inputs.proxy && inputs.proxy.reload.length > 0 ? { proxy: inputs.proxy } : {}),
      gate: {
        deadlineMs: inputs.healthTimeoutMs,
        intervalMs: inputs.healthIntervalMs,
        successes: inputs.healthSuccesses,
      },
      force,
    });
    const deps = { logger: ctx.log, ...(sleep ? { sleep } : {}) };
    let services: PlannedService[];
    let facts: ServiceFacts[];
    try {
      facts = await readFacts(ctx.host, ctx.project);
      services = planServices(facts, inputs.services, inputs.strategies);
    } catch (error) {
      return { ok: false, reason: `planning the rollout failed: ${errorMessage(error)}`, previousServing: true };
    }
    ctx.log.info(`rolling ${services.map((s) => `${s.name} (${s.strategy})`).join(', ')}`);
    for (const s of services)
      if (s.strategy === 'start-first' && s.facts.sharedData)
        ctx.log.warn(`${s.name}: start-first — ${s.reason}: old and new containers share it while both run`);
    try {
      const results = await rolloutDroplet(ctx.host, options(ctx.project, ctx.previous, services, inputs.force), deps);
      const record: StarterRecord = { services: results };
      records.set(ctx.target.label, record);
      const refused = accept ? await accept(ctx) : undefined;
      if (refused) return refused;
      let states = await readServiceStates(ctx.host, inputs.deploy.app);
      // only now that every service rolled (and the release was accepted): services the
      // release dropped go (never their volumes)
      try {
        record.removed = await removeDropped(
          ctx.host,
          {
            project: ctx.project,
            states,
            active: new Set(facts.map((f) => f.name)),
            stopTimeoutSeconds: inputs.stopTimeoutSeconds,
          },
          deps,
        );
        const gone = new Set(record.removed.flatMap((r) => r.containers));
        states = states.filter((s) => !gone.has(s.container));
      } catch (error) {
        record.removeError = errorMessage(error);
        ctx.log.warn(
          `services no longer in the release were left running: ${record.removeError} (the release itself is serving)`,
        );
      }
      return { ok: true, states };
    } catch (error) {
      if (!(error instanceof ServiceRolloutError)) {
        return { ok: false, reason: errorMessage(error), previousServing: false };
      }
      const record: StarterRecord = { services: error.results };
      records.set(ctx.target.label, record);
      const rolled = error.results.filter((r) => r.result === 'updated').map((r) => r.service);
      if (rolled.length === 0)
        return {
          ok: false,
          reason: error.message,
          ...(error.diagnostics ? { diagnostics: error.diagnostics } : {}),
          previousServing: true,
        };
      if (!ctx.previous) return { ok: false, reason: error.message, previousServing: false };
      ctx.log.warn(`rolling ${rolled.join(', ')} back to the previous release`);
      try {
        const previous = ctx.previous;
        const prevFacts = await readFacts(ctx.host, previous);
        const known = new Set(prevFacts.map((f) => f.name));
        // services this release added have nothing to go back to: they are removed below
        const again = [...rolled].reverse().filter((n) => known.has(n));
        const strategies = new Map([...inputs.strategies].filter(([k]) => k === '*' || known.has(k)));
        const back = again.length > 0 ? planServices(prevFacts, again, strategies) : [];
        record.rolledBack =
          back.length > 0 ? await rolloutDroplet(ctx.host, options(previous, undefined, back, true), deps) : [];
        if (rolled.some((n) => !known.has(n))) {
          record.removed = await removeDropped(
            ctx.host,
            {
              project: previous,
              states: await readServiceStates(ctx.host, inputs.deploy.app),
              active: known,
              stopTimeoutSeconds: inputs.stopTimeoutSeconds,
            },
            deps,
          );
        }
        return {
          ok: false,
          reason: `${error.message}; ${rolled.join(', ')} rolled back`,
          ...(error.diagnostics ? { diagnostics: error.diagnostics } : {}),
          previousServing: true,
        };
      } catch (backError) {
        return {
          ok: false,
          reason: `${error.message}; rolling ${rolled.join(', ')} back failed too: ${errorMessage(backError)}`,
          previousServing: false,
        };
      }
    }
  };
}
