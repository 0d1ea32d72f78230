import { describe, expect, it } from 'vitest';

import { render } from '../../lib/commands/cmd.js';
import { parseInspectLine, pullAndInspectScript } from './deliver.js';

const ID = `sha256:${'a'.repeat(64)}`;
// as the renderer quotes it
const Q = `reg/web\\@sha256\\:${'a'.repeat(64)}`;

describe('image delivery', () => {
  it.each([
    [
      'reg/web:1',
      undefined,
      "docker pull --quiet reg/web\\:1 && docker image inspect --format '{{.Id}} {{json .RepoDigests}}' reg/web\\:1",
    ],
    [
      'reg/web:1',
      '/opt/a/.deploy-tmp/t/docker-config',
      "DOCKER_CONFIG=/opt/a/.deploy-tmp/t/docker-config docker pull --quiet reg/web\\:1 && docker image inspect --format '{{.Id}} {{json .RepoDigests}}' reg/web\\:1",
    ],
    [
      `reg/web@${ID}`,
      undefined,
      `docker image inspect --format '{{.Id}} {{json .RepoDigests}}' ${Q} || { docker pull --quiet ${Q} && docker image inspect --format '{{.Id}} {{json .RepoDigests}}' ${Q}; }`,
    ],
  ])('pulls and inspects %s in one command', (ref, dir, expected) => {
    expect(render(pullAndInspectScript(ref, dir))).toBe(expected);
  });

  it('reads the id and digests from the last line (after the pull output)', () => {
    expect(parseInspectLine('reg/web:1', `reg/web:1\n${ID} ["reg/web@sha256:${'b'.repeat(64)}"]\n`)).toEqual({
      ref: 'reg/web:1',
      id: ID,
      repoDigests: [`reg/web@sha256:${'b'.repeat(64)}`],
    });
    expect(parseInspectLine('x', `${ID} null`)).toEqual({ ref: 'x', id: ID, repoDigests: [] });
    expect(parseInspectLine('x', 'Error: no such image')).toBeUndefined();
  });
});
