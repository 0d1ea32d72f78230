import { randomBytes } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';

import type { Logger } from '../action/logger.js';
import type { Script } from '../commands/cmd.js';
import type { RemoteHost } from '../ssh/executor.js';
import * as c from './commands.js';
import type { DumpSource } from './pipeline.js';
import type { DumpSpec, MysqlDump, PostgresDump } from './spec.js';

// What each dump kind does on the droplet, built from the command builders: resolve the
// Compose containers/volumes by label, produce a DumpSource, restore from a stream, verify
// a stream in a throwaway container.

export interface KindContext {
  host: RemoteHost;
  app: string;
  logger: Logger;
  sleep: (ms: number) => Promise<void>;
  /** Deadline for waits such as Redis BGSAVE. */
  waitTimeoutMs: number;
}

export interface VerifyResult {
  ok: boolean;
  /** One line for the summary, e.g. "3 tables, 120034 rows". */
  summary: string;
  /** `name|count` lines the check printed. */
  details: string[];
}

const lines = (text: string): string[] =>
  text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);

async function oneContainer(ctx: KindContext, service: string, all = false): Promise<string> {
  const out = lines((await ctx.host.run(c.findServiceContainers(ctx.app, service, all))).stdout);
  if (out.length === 0) {
    throw new Error(
      `no ${all ? '' : 'running '}container of service "${service}" in Compose project "${ctx.app}" on ${ctx.host.label}`,
    );
  }
  return out[0] as string;
}

async function serviceContainers(ctx: KindContext, service: string): Promise<string[]> {
  return lines((await ctx.host.run(c.findServiceContainers(ctx.app, service))).stdout);
}

/** A Compose named volume's Docker name (`<project>_<volume>`), found by label, or the name as given. */
export async function resolveVolume(ctx: KindContext, volume: string): Promise<string> {
  const byLabel = lines((await ctx.host.run(c.findProjectVolume(ctx.app, volume))).stdout);
  if (byLabel[0]) return byLabel[0];
  const exact = await ctx.host.run(c.volumeExists(volume), { allowFailure: true });
  if (exact.code === 0) return volume;
  throw new Error(`volume "${volume}" of Compose project "${ctx.app}" does not exist on ${ctx.host.label}`);
}

async function imageOf(ctx: KindContext, container: string): Promise<string> {
  return (await ctx.host.run(c.inspect(container, '{{.Config.Image}}'))).stdout.trim();
}

function passwordLine(password: string): () => Readable {
  return () => Readable.from([Buffer.from(`${password}\n`, 'utf8')]);
}

/** A stream that starts with a password line and continues with the data. */
function withPasswordLine(password: string, data: Readable): Readable {
  const out = new PassThrough();
  out.write(`${password}\n`);
  data.on('error', (e) => out.destroy(e));
  data.pipe(out);
  return out;
}

// ---------------------------------------------------------------- dump

export async function prepareDump(ctx: KindContext, spec: DumpSpec): Promise<DumpSource> {
  switch (spec.kind) {
    case 'postgres': {
      if (spec.databaseUrl) {
        const p = c.parsePgUrl(spec.databaseUrl);
        return {
          script: c.pgDumpFromUrl(spec.image ?? 'postgres:17-alpine', p),
          stdin: passwordLine(p.password),
          description: `postgres ${p.host}:${p.port}/${p.database} (database-url) via ${ctx.host.label}`,
        };
      }
      const id = await oneContainer(ctx, spec.service as string);
      return {
        script: c.pgDumpInService(id, pgTarget(spec)),
        description: `postgres in service "${spec.service}" on ${ctx.host.label}`,
      };
    }
    case 'mysql':
    case 'mariadb': {
      const id = await oneContainer(ctx, spec.service);
      return {
        script: c.mysqlDumpInService(id, spec),
        description: `${spec.kind} in service "${spec.service}" on ${ctx.host.label}`,
      };
    }
    case 'sqlite': {
      const volume = await resolveVolume(ctx, spec.volume);
      const image = spec.image ?? (await imageOf(ctx, await oneContainer(ctx, spec.service as string, true)));
      return {
        script: c.sqliteDump(image, volume, spec.path),
        description: `sqlite ${volume}:/${spec.path} on ${ctx.host.label}`,
      };
    }
    case 'redis': {
      const id = await oneContainer(ctx, spec.service);
      const path = await redisSnapshot(ctx, id, spec.passwordEnv);
      return {
        script: c.catInContainer(id, path),
        description: `redis RDB of service "${spec.service}" on ${ctx.host.label}`,
      };
    }
    case 'volume': {
      const volume = await resolveVolume(ctx, spec.volume);
      return { script: c.volumeTar(spec.image, volume), description: `volume ${volume} on ${ctx.host.label}` };
    }
  }
}

function pgTarget(spec: PostgresDump): c.PgTarget {
  return {
    user: spec.user,
    passwordEnv: spec.passwordEnv,
    ...(spec.database ? { database: spec.database } : {}),
    ...(spec.compressLevel !== undefined ? { compressLevel: spec.compressLevel } : {}),
  };
}

async function redisValue(
  ctx: KindContext,
  id: string,
  passwordEnv: string | undefined,
  ...args: string[]
): Promise<string> {
  const out = await ctx.host.run(c.redisCli(id, passwordEnv, ...args));
  const text = out.stdout.trim();
  if (/^(\(error\)|ERR|NOAUTH|WRONGPASS)/.test(text))
    throw new Error(`redis-cli ${args.join(' ')} on ${ctx.host.label}: ${text}`);
  return text;
}

function configValue(text: string): string {
  // `CONFIG GET dir` prints two lines: the name and the value (--no-raw quotes them)
  const parts = lines(text).map((l) => l.replace(/^\d+\)\s*/, '').replace(/^"(.*)"$/, '$1'));
  return parts[1] ?? '';
}

/** BGSAVE, then wait until LASTSAVE moves; returns the RDB file path inside the container. */
export async function redisSnapshot(ctx: KindContext, id: string, passwordEnv?: string): Promise<string> {
  const parseInt10 = (s: string): number => Number(s.replace(/^\(integer\)\s*/, ''));
  const before = parseInt10(await redisValue(ctx, id, passwordEnv, 'LASTSAVE'));
  const started = await redisValue(ctx, id, passwordEnv, 'BGSAVE');
  ctx.logger.info(`redis: ${started.replace(/^"|"$/g, '')}`);
  const deadline = Date.now() + ctx.waitTimeoutMs;
  for (let i = 0; ; i += 1) {
    const now = parseInt10(await redisValue(ctx, id, passwordEnv, 'LASTSAVE'));
    if (now !== before) break;
    if (Date.now() > deadline || i > 100_000)
      throw new Error(
        `redis BGSAVE did not finish within ${Math.round(ctx.waitTimeoutMs / 1000)}s on ${ctx.host.label}`,
      );
    await ctx.sleep(Math.min(1000, 100 * (i + 1)));
  }
  const info = await redisValue(ctx, id, passwordEnv, 'INFO', 'persistence');
  if (/rdb_last_bgsave_status:err/.test(info))
    throw new Error(`redis BGSAVE failed on ${ctx.host.label} (rdb_last_bgsave_status:err)`);
  const dir = configValue(await redisValue(ctx, id, passwordEnv, 'CONFIG', 'GET', 'dir'));
  const file = configValue(await redisValue(ctx, id, passwordEnv, 'CONFIG', 'GET', 'dbfilename'));
  if (!dir || !file) throw new Error(`could not read Redis's dir/dbfilename on ${ctx.host.label}`);
  return `${dir.replace(/\/$/, '')}/${file}`;
}

// ---------------------------------------------------------------- restore (destructive)

async function withStopped<T>(ctx: KindContext, ids: readonly string[], fn: () => Promise<T>): Promise<T> {
  if (ids.length) {
    ctx.logger.info(`stopping ${ids.length} container(s) for the restore`);
    await ctx.host.run(c.stopContainers(ids));
  }
  try {
    return await fn();
  } finally {
    if (ids.length) {
      ctx.logger.info(`starting ${ids.length} container(s) again`);
      await ctx.host.run(c.startContainers(ids));
    }
  }
}

async function runWithStdin(ctx: KindContext, script: Script, stdin: Readable, what: string): Promise<string> {
  // a stream that failed before the command starts would never end the command's stdin
  if (stdin.errored || stdin.destroyed)
    throw new Error(`${what}: the backup stream failed before it started: ${stdin.errored?.message ?? 'destroyed'}`);
  const result = await ctx.host.run(script, { stdin, allowFailure: true, timeoutMs: 24 * 3_600_000 });
  if (result.code !== 0) {
    const tail = lines(result.stderr || result.stdout)
      .slice(-10)
      .join('\n');
    throw new Error(`${what} on ${ctx.host.label} exited with code ${result.code}${tail ? `:\n${tail}` : ''}`);
  }
  return result.stdout;
}

export async function restoreDump(ctx: KindContext, spec: DumpSpec, data: Readable): Promise<void> {
  switch (spec.kind) {
    case 'postgres': {
      if (spec.databaseUrl) {
        const p = c.parsePgUrl(spec.databaseUrl);
        await runWithStdin(
          ctx,
          c.pgRestoreFromUrl(spec.image ?? 'postgres:17-alpine', p),
          withPasswordLine(p.password, data),
          'pg_restore',
        );
        return;
      }
      const id = await oneContainer(ctx, spec.service as string);
      await runWithStdin(ctx, c.pgRestoreInService(id, pgTarget(spec)), data, 'pg_restore');
      return;
    }
    case 'mysql':
    case 'mariadb': {
      const id = await oneContainer(ctx, spec.service);
      await runWithStdin(ctx, c.mysqlRestoreInService(id, spec), data, `${spec.kind} restore`);
      return;
    }
    case 'sqlite': {
      const volume = await resolveVolume(ctx, spec.volume);
      const running = spec.service
        ? await serviceContainers(ctx, spec.service)
        : lines((await ctx.host.run(c.containersUsingVolume(volume))).stdout);
      const image = spec.image ?? (await imageOf(ctx, await oneContainer(ctx, spec.service as string, true)));
      await withStopped(ctx, running, () =>
        runWithStdin(ctx, c.sqliteRestore(image, volume, spec.path), data, 'sqlite restore'),
      );
      return;
    }
    case 'redis': {
      const id = await oneContainer(ctx, spec.service);
      const aof = configValue(await redisValue(ctx, id, spec.passwordEnv, 'CONFIG', 'GET', 'appendonly'));
      if (aof === 'yes') {
        throw new Error(
          `service "${spec.service}" runs Redis with appendonly yes: Redis would load the AOF and ignore a restored RDB. Nothing was changed.`,
        );
      }
      const dir = configValue(await redisValue(ctx, id, spec.passwordEnv, 'CONFIG', 'GET', 'dir'));
      const file = configValue(await redisValue(ctx, id, spec.passwordEnv, 'CONFIG', 'GET', 'dbfilename'));
      const image = await imageOf(ctx, id);
      await withStopped(ctx, [id], () =>
        runWithStdin(
          ctx,
          c.writeFileViaVolumesFrom(image, id, `${dir.replace(/\/$/, '')}/${file}`),
          data,
          'redis restore',
        ),
      );
      return;
    }
    case 'volume': {
      const volume = await resolveVolume(ctx, spec.volume);
      const ids = spec.services
        ? (await Promise.all(spec.services.map((s) => serviceContainers(ctx, s)))).flat()
        : lines((await ctx.host.run(c.containersUsingVolume(volume))).stdout);
      await withStopped(ctx, ids, () => runWithStdin(ctx, c.volumeUntar(spec.image, volume), data, 'volume restore'));
      return;
    }
  }
}

// ---------------------------------------------------------------- verify (throwaway)

function parseCounts(out: string): { details: string[]; total: number } {
  const details = lines(out).filter((l) => l.includes('|'));
  const total = details.reduce((n, l) => n + (Number(l.split('|').pop()) || 0), 0);
  return { details, total };
}

export async function verifyDump(ctx: KindContext, spec: DumpSpec, data: Readable): Promise<VerifyResult> {
  switch (spec.kind) {
    case 'postgres':
      return verifyPostgres(ctx, spec, data);
    case 'mysql':
    case 'mariadb':
      return verifyMysql(ctx, spec, data);
    case 'sqlite': {
      const image = spec.image ?? (await imageOf(ctx, await oneContainer(ctx, spec.service as string, true)));
      const out = await runWithStdin(ctx, c.sqliteVerify(image), data, 'sqlite verify');
      const first = lines(out)[0] ?? '';
      const { details, total } = parseCounts(out);
      return {
        ok: first === 'ok',
        summary: `integrity_check ${first || '(no answer)'}; ${details.length} tables, ${total} rows`,
        details,
      };
    }
    case 'redis': {
      const image = await imageOf(ctx, await oneContainer(ctx, spec.service));
      const out = await runWithStdin(ctx, c.redisVerify(image), data, 'redis verify');
      const { details, total } = parseCounts(out);
      return { ok: details.length === 1, summary: `RDB loads; ${total} keys`, details };
    }
    case 'volume': {
      const out = await runWithStdin(ctx, c.volumeVerify(spec.image), data, 'volume verify');
      const { details, total } = parseCounts(out);
      return { ok: details.length === 1, summary: `tar reads; ${total} entries`, details };
    }
  }
}

/** The image and command of a service's running container (what a throwaway server copies). */
async function serviceImageAndCommand(
  ctx: KindContext,
  service: string,
): Promise<{ image: string; command: string[] }> {
  const id = await oneContainer(ctx, service);
  const out = (await ctx.host.run(c.inspect(id, '{{json .Config.Image}} {{json .Config.Cmd}}'))).stdout.trim();
  const [image, command] = JSON.parse(`[${out.replace(/\s+/, ',')}]`) as [string, string[] | null];
  return { image, command: command ?? [] };
}

/**
 * Starts a throwaway database server, waits until `probe` prints `1`, runs `fn`, and removes the
 * server (and its anonymous volumes) whatever happens.
 */
async function withThrowawayServer<T>(
  ctx: KindContext,
  server: { name: string; start: Script; stdin?: string; probe: Script; what: string },
  fn: () => Promise<T>,
): Promise<T> {
  await ctx.host.run(server.start, server.stdin !== undefined ? { stdin: server.stdin } : {});
  try {
    const deadline = Date.now() + ctx.waitTimeoutMs;
    for (let i = 0; ; i += 1) {
      const probe = await ctx.host.run(server.probe, { allowFailure: true });
      if (probe.code === 0 && probe.stdout.trim() === '1') break;
      const state = (
        await ctx.host.run(c.inspect(server.name, '{{.State.Running}} {{.State.ExitCode}}'), { allowFailure: true })
      ).stdout.trim();
      if (state.startsWith('false')) {
        throw new Error(`${server.what} exited (code ${state.split(' ')[1] ?? '?'}) before accepting connections`);
      }
      if (Date.now() > deadline || i > 10_000)
        throw new Error(`${server.what} did not accept connections within ${Math.round(ctx.waitTimeoutMs / 1000)}s`);
      await ctx.sleep(500);
    }
    return await fn();
  } finally {
    await ctx.host.run(c.removeContainer(server.name), { allowFailure: true });
  }
}

const throwawayName = (ctx: KindContext): string => `dd-verify-${ctx.app}-${randomBytes(4).toString('hex')}`;

async function verifyPostgres(ctx: KindContext, spec: PostgresDump, data: Readable): Promise<VerifyResult> {
  const { image, command } = spec.service
    ? await serviceImageAndCommand(ctx, spec.service)
    : { image: spec.image ?? 'postgres:17-alpine', command: [] };
  const run = command.length ? command : ['postgres'];
  const name = throwawayName(ctx);
  const password = randomBytes(18).toString('base64url');
  const database = spec.database ?? 'verify';
  const target: c.PgTarget = { user: spec.user, passwordEnv: 'POSTGRES_PASSWORD', database };
  return withThrowawayServer(
    ctx,
    {
      name,
      start: c.pgVerifyServer(name, image, run, spec.user, database),
      stdin: `${password}\n`,
      probe: c.psqlInService(name, target, 'SELECT 1', '127.0.0.1'),
      what: `the throwaway PostgreSQL (${image} ${run.join(' ')})`,
    },
    async () => {
      await runWithStdin(ctx, c.pgRestoreInService(name, target), data, 'pg_restore into the throwaway server');
      const out = (await ctx.host.run(c.psqlInService(name, target, c.PG_ROW_COUNTS_SQL))).stdout;
      const { details, total } = parseCounts(out);
      // an empty database is a valid backup: pg_restore and the count query succeeding is the check
      return {
        ok: true,
        summary: `restored into a throwaway ${image}: ${details.length} tables, ${total} rows`,
        details,
      };
    },
  );
}

async function verifyMysql(ctx: KindContext, spec: MysqlDump, data: Readable): Promise<VerifyResult> {
  const { image, command } = await serviceImageAndCommand(ctx, spec.service);
  const name = throwawayName(ctx);
  return withThrowawayServer(
    ctx,
    {
      name,
      start: c.mysqlVerifyServer(name, image, command),
      probe: c.mysqlVerifyProbe(name),
      what: `the throwaway ${spec.kind} server (${image} ${command.join(' ')})`,
    },
    async () => {
      const out = await runWithStdin(
        ctx,
        c.mysqlVerifyRestore(name),
        data,
        `${spec.kind} restore into the throwaway server`,
      );
      const { details, total } = parseCounts(out.replace(/\t/g, '|'));
      return {
        ok: true,
        summary: `restored into a throwaway ${image}: ${details.length} tables, ${total} rows`,
        details,
      };
    },
  );
}
