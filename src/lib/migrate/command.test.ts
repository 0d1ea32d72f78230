import { describe, expect, it } from 'vitest';

import { render } from '../commands/cmd.js';
import { COMPOSE_V1, COMPOSE_V2, type ComposeProject } from '../compose/compose.js';
import { dependenciesOf, migrationScript, parseCommand } from './command.js';

const project: ComposeProject = {
  flavor: COMPOSE_V2,
  project: 'shop',
  files: ['/opt/shop/releases/abc/compose.yaml', '/opt/shop/releases/abc/release.pinned.yaml'],
  envFile: '/opt/shop/releases/abc/.env',
};

describe('parseCommand', () => {
  it.each([
    ['alembic upgrade head', ['alembic', 'upgrade', 'head']],
    ['/app/migrate.sh --all', ['/app/migrate.sh', '--all']],
    [
      `sh -c 'psql "$DATABASE_URL" -f /m.sql && echo done'`,
      ['sh', '-c', 'psql "$DATABASE_URL" -f /m.sql && echo done'],
    ],
    ['./app migrate --dsn $DATABASE_URL', ['./app', 'migrate', '--dsn', '$DATABASE_URL']],
  ])('%s', (text, argv) => {
    expect(parseCommand('command', text)).toEqual(argv);
  });

  it.each([
    ['a && b', '&&'],
    ['migrate > out.log', '>'],
    ['migrate | tee', '|'],
    ['migrate *', '*'],
    ['migrate # note', '#'],
  ])('rejects %j, which needs a shell', (text, what) => {
    expect(() => parseCommand('command', text)).toThrow(`"${what}" would need a shell`);
  });

  it('rejects an empty command', () => {
    expect(() => parseCommand('command', '  ')).toThrow('input "command" is empty');
  });
});

describe('migrationScript', () => {
  it('runs a one-off container of the service without its dependencies', () => {
    expect(render(migrationScript({ project, service: 'web', argv: ['/app/migrate.sh'], mode: 'run' }))).toBe(
      'docker compose --project-name shop --file /opt/shop/releases/abc/compose.yaml --file /opt/shop/releases/abc/release.pinned.yaml --env-file /opt/shop/releases/abc/.env run --rm --no-deps -T web /app/migrate.sh',
    );
  });

  it('passes the database URL by name, its value read from stdin', () => {
    const script = migrationScript({
      project: { ...project, flavor: COMPOSE_V1, files: ['/r/compose.yaml'], envFile: '/r/.env' },
      service: 'api',
      argv: ['alembic', 'upgrade', 'head'],
      mode: 'exec',
      secretEnvName: 'DATABASE_URL',
    });
    expect(render(script)).toBe(
      "sh -c 'read -r DATABASE_URL && export DATABASE_URL && docker-compose --project-name shop --file /r/compose.yaml --env-file /r/.env exec -T -e DATABASE_URL api alembic upgrade head'",
    );
  });
});

describe('dependenciesOf', () => {
  it.each([
    [
      'services:\n  web:\n    depends_on:\n      db:\n        condition: service_healthy\n      redis:\n        condition: service_started\n',
      ['db', 'redis'],
    ],
    ['services:\n  web:\n    depends_on: [db]\n', ['db']],
    ['services:\n  web:\n    image: x\n', []],
  ])('%#', (yaml, expected) => {
    expect(dependenciesOf(yaml, 'web')).toEqual(expected);
  });

  it('names a service the release does not have', () => {
    expect(() => dependenciesOf('services:\n  api: {}\n', 'web')).toThrow('the release has no service "web"');
  });
});
