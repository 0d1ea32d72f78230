// The lab's infrastructure layer, end to end: real droplet containers (sshd + Docker inside)
// made through the droplet backend, SSH with a pinned host key, Compose v2/v1, an app pulled
// from the lab registry and reachable on the droplet's public loopback address, snapshots,
// cloud-config user_data, power cycling and the sshd/disk faults.
import { ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { useLab, generateKeyPair, sshConnect, type FixtureDroplet } from '../lab/fixture.js';
import { sshBanner } from '../lab/droplets.js';

const lab = useLab();

const composeApp = (images: string[]): string => {
  const web = images.find((i) => i.includes('/ddlab/web:'))!;
  const services = images.find((i) => i.includes('/ddlab/services:'))!;
  return `services:
  web:
    image: ${web}
    init: true
    command: ["/bin/sh", "-c", "echo hello-from-compose > /www/index.html && exec httpd -f -p 80 -h /www"]
    ports: ["80:80"]
    depends_on:
      cache:
        condition: service_healthy
  cache:
    image: ${services}
    command: ["redis"]
    healthcheck:
      test: ["CMD", "redis-cli", "ping"]
      interval: 1s
      retries: 30
`;
};

async function httpGet(url: string): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  return `${res.status} ${await res.text()}`;
}

describe('lab infrastructure', () => {
  const deployKey = generateKeyPair('deploy@lab');
  const cloudHostKey = generateKeyPair('cloud-host');
  const cloudConfig = `#cloud-config
ssh_keys:
  ed25519_private: |
${cloudHostKey.privateKey
  .trim()
  .split('\n')
  .map((l) => `    ${l}`)
  .join('\n')}
  ed25519_public: ${cloudHostKey.publicKey}
users:
  - default
  - name: deploy
    groups: [docker]
    shell: /bin/bash
    sudo: ALL=(ALL) NOPASSWD:ALL
    ssh_authorized_keys:
      - ${deployKey.publicKey}
write_files:
  - path: /etc/lab/plain.txt
    content: |
      plain text
    permissions: '0640'
  - path: /etc/lab/b64.txt
    encoding: b64
    content: ${Buffer.from('from base64\n').toString('base64')}
    permissions: 0600
  - path: /home/deploy/owned.txt
    content: mine
    owner: deploy:deploy
    defer: true
swap:
  filename: /swapfile
  size: 16M
packages: [jq]
runcmd:
  - echo runcmd-string > /root/runcmd.txt
  - [sh, -c, 'echo "argv list $0" >> /root/runcmd.txt', "it's quoted"]
`;

  let a: FixtureDroplet; // trixie
  let b: FixtureDroplet; // trixie + cloud-config
  let c: FixtureDroplet; // bookworm

  it('brings 3 droplets up in parallel; SSH works with the client key and only the pinned host key', async () => {
    const t = Date.now();
    [a, b, c] = await Promise.all([
      lab.createDroplet({ name: 'infra-a' }),
      lab.createDroplet({ name: 'infra-b', userData: cloudConfig, expectHostKey: cloudHostKey.publicKey }),
      lab.createDroplet({ name: 'infra-c', variant: 'bookworm', extraPorts: [8080] }),
    ]);
    console.log(`3 droplets up in parallel in ${((Date.now() - t) / 1000).toFixed(1)} s`);
    const addrs = new Set([a, b, c].map((d) => d.publicIpv4));
    expect(addrs.size).toBe(3);
    for (const d of [a, b, c]) {
      expect(d.publicIpv4).toMatch(/^127\.0\.1\d\.\d+$/);
      expect(d.privateIpv4.startsWith(`${lab.info.network.base}.`)).toBe(true);
      const r = await lab.exec(d, 'hostname; id -un');
      expect(r.code).toBe(0);
      expect(r.stdout.split('\n')).toEqual([d.name, 'root']);
    }
    // a different expected host key is refused
    const other = generateKeyPair('other');
    await expect(
      sshConnect({ host: a.publicIpv4, privateKey: lab.identity.privateKey, hostKey: other.publicKey }),
    ).rejects.toThrow();
    // a key that is not authorized is refused
    await expect(
      sshConnect({ host: a.publicIpv4, privateKey: other.privateKey, hostKey: a.hostKey }),
    ).rejects.toThrow();
    // droplets reach each other on the private network
    const ping = await lab.exec(a, `nc -z -w 3 ${c.privateIpv4} 22 && echo reachable`);
    expect(ping.stdout.trim()).toBe('reachable');
  });

  it('has Compose v2 (`docker compose`) on trixie and only Compose v1 (`docker-compose`) on bookworm', async () => {
    const v2 = await lab.exec(a, 'docker compose version --short');
    expect(v2.code).toBe(0);
    expect(v2.stdout.trim()).toMatch(/^2\./);
    const engine = await lab.exec(a, "docker version --format '{{.Server.Version}}'");
    expect(engine.stdout.trim()).toMatch(/^26\./);
    const v1 = await lab.exec(c, 'docker-compose version --short');
    expect(v1.code).toBe(0);
    expect(v1.stdout.trim()).toMatch(/^1\.29\./);
    const noV2 = await lab.exec(c, 'docker compose version');
    expect(noV2.code).not.toBe(0);
  });

  it('runs a two-service Compose app from the lab registry, reachable on the public address', async () => {
    const images = lab.env.LAB_APP_IMAGES.split(',');
    expect(images.every((i) => i.startsWith(`${lab.env.LAB_REGISTRY}/`))).toBe(true);
    const up = await lab.exec(
      a,
      'mkdir -p /opt/app && cat > /opt/app/compose.yaml && cd /opt/app && docker compose up -d --wait',
      {
        stdin: composeApp(images),
      },
    );
    expect(up.code, up.stderr).toBe(0);
    expect(await httpGet(`http://${a.publicIpv4}/`)).toBe('200 hello-from-compose\n');
    const ping = await lab.exec(
      a,
      'cd /opt/app && docker compose exec -T cache redis-cli ping && docker compose exec -T web wget -qO- http://cache:6379 >/dev/null 2>&1; docker compose ps --format json | head -c 20 >/dev/null',
    );
    expect(ping.stdout).toContain('PONG');
    // Compose v1 on bookworm runs the same file
    const v1 = await lab.exec(
      c,
      'mkdir -p /opt/app && cat > /opt/app/docker-compose.yml && cd /opt/app && docker-compose up -d',
      {
        stdin: composeApp(images).replace(
          'depends_on:\n      cache:\n        condition: service_healthy\n',
          'depends_on: [cache]\n',
        ),
      },
    );
    expect(v1.code, v1.stderr).toBe(0);
    await expect
      .poll(() => httpGet(`http://${c.publicIpv4}/`).catch((e: Error) => e.message), { timeout: 20_000 })
      .toBe('200 hello-from-compose\n');
  });

  it('snapshot → a new droplet from it has the same files and images', async () => {
    const images = lab.env.LAB_APP_IMAGES.split(',');
    const web = images.find((i) => i.includes('/ddlab/web:'))!;
    await lab.exec(a, 'echo snapshot-marker > /root/marker.txt && echo opt-marker > /opt/app/marker.txt');
    const snap = await lab.backend.snapshot(a.container);
    expect(lab.backend.snapshotInfo(snap)?.sizeBytes).toBeGreaterThan(0);
    const s = await lab.createDroplet({ name: 'infra-from-snap', fromSnapshot: snap });
    const r = await lab.exec(s, `cat /root/marker.txt /opt/app/marker.txt && docker image inspect --format ok ${web}`);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.split('\n')).toEqual(['snapshot-marker', 'opt-marker', 'ok']);
    // the app comes back from the snapshot's Docker data too
    const up = await lab.exec(s, 'cd /opt/app && docker compose up -d --wait');
    expect(up.code, up.stderr).toBe(0);
    expect(await httpGet(`http://${s.publicIpv4}/`)).toBe('200 hello-from-compose\n');
    // new instance: its own host key, not the snapshot source's
    expect(s.hostKey).not.toBe(a.hostKey);
    await lab.destroy(s);
    await lab.backend.deleteSnapshot(snap);
  });

  it('applies cloud-config user_data: host keys, users, write_files, swap, runcmd; cloud-init status --wait says done', async () => {
    const st = await lab.exec(b, 'cloud-init status --wait');
    expect(st.code, st.stdout + st.stderr).toBe(0);
    expect(st.stdout.trim().split('\n').pop()).toBe('status: done');
    const files = await lab.exec(
      b,
      'cat /etc/lab/plain.txt /etc/lab/b64.txt; stat -c "%a %U" /etc/lab/plain.txt /etc/lab/b64.txt /home/deploy/owned.txt; cat /root/runcmd.txt; id -nG deploy; getent passwd deploy | cut -d: -f7; ls -l /swapfile | cut -c1-10; cloud-init status --long',
    );
    expect(files.code, files.stderr).toBe(0);
    const lines = files.stdout.split('\n');
    expect(lines.slice(0, 8)).toEqual([
      'plain text',
      'from base64',
      '640 root',
      '600 root',
      '644 deploy',
      'runcmd-string',
      "argv list it's quoted",
      'deploy docker',
    ]);
    expect(lines[8]).toBe('/bin/bash');
    expect(lines[9]).toBe('-rw-------');
    expect(files.stdout).toMatch(/lab_warnings:[\s\S]*packages jq/);
    // the deploy user logs in with its own key, uses docker without sudo, and has sudo
    const ssh = await sshConnect({
      host: b.publicIpv4,
      username: 'deploy',
      privateKey: deployKey.privateKey,
      hostKey: cloudHostKey.publicKey,
    });
    try {
      const r = await ssh.execCommand('docker info --format "{{.ServerVersion}}" && sudo -n true && echo sudo-ok');
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.trim().split('\n')).toEqual([expect.stringMatching(/^26\./), 'sudo-ok']);
    } finally {
      ssh.dispose();
    }
  });

  it('reports a failing user_data script as `status: error` (exit 1)', async () => {
    const d = await lab.createDroplet({ name: 'infra-fail', userData: '#!/bin/sh\necho about to fail\nexit 3\n' });
    const st = await lab.exec(d, 'cloud-init status --wait --long');
    expect(st.code).toBe(1);
    expect(st.stdout).toContain('status: error');
    const out = await lab.exec(d, 'cat /var/log/cloud-init-output.log');
    expect(out.stdout).toContain('about to fail');
    await lab.destroy(d);
  });

  it('power off/on and reboot keep files, images and the same addresses', async () => {
    await lab.exec(c, 'echo survives > /opt/power.txt');
    await lab.backend.powerOff(c.container);
    expect(await lab.backend.isRunning(c.container)).toBe(false);
    expect(await sshBanner(c.publicIpv4, 22, 1000)).toBeUndefined();
    await lab.backend.powerOn(c.container);
    await lab.backend.reboot(c.container);
    const r = await lab.exec(c, 'cat /opt/power.txt; cloud-init status');
    expect(r.stdout.split('\n')).toEqual(['survives', 'status: done']);
    // restart: unless-stopped is not set in the test file, so bring the app up again
    const up = await lab.exec(c, 'cd /opt/app && docker-compose up -d');
    expect(up.code, up.stderr).toBe(0);
    await expect
      .poll(() => httpGet(`http://${c.publicIpv4}/`).catch((e: Error) => e.message), { timeout: 20_000 })
      .toBe('200 hello-from-compose\n');
  });

  it('lab services: the managed PostgreSQL from a droplet and the host, S3 with paging', async () => {
    const services = lab.env.LAB_APP_IMAGES.split(',').find((i) => i.includes('/ddlab/services:'))!;
    // from a container in the droplet (as an app would), with the URL droplets get
    // the URL (with its password) goes through stdin and the environment, never argv
    const r = await lab.exec(
      a,
      `read -r DATABASE_URL && export DATABASE_URL && docker run --rm -e DATABASE_URL ${services} sh -c 'psql "$DATABASE_URL" -tAc "select 40 + 2"'`,
      { stdin: `${lab.env.LAB_POSTGRES_URL}\n` },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('42');
    const client = new pg.Client({ connectionString: lab.info.postgresUrlForHost });
    await client.connect();
    try {
      const v = await client.query<{ server_version: string }>('show server_version');
      expect(v.rows[0]?.server_version).toMatch(/^15\./);
    } finally {
      await client.end();
    }
    const s3 = new S3Client({
      endpoint: lab.env.LAB_S3_ENDPOINT,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: lab.env.LAB_S3_ACCESS_KEY_ID, secretAccessKey: lab.env.LAB_S3_SECRET_ACCESS_KEY },
    });
    const prefix = `infra-${Date.now()}/`;
    for (const n of [1, 2, 3]) {
      await s3.send(new PutObjectCommand({ Bucket: lab.env.LAB_S3_BUCKET, Key: `${prefix}${n}`, Body: `object ${n}` }));
    }
    const page1 = await s3.send(
      new ListObjectsV2Command({ Bucket: lab.env.LAB_S3_BUCKET, Prefix: prefix, MaxKeys: 2 }),
    );
    expect(page1.IsTruncated).toBe(true);
    const page2 = await s3.send(
      new ListObjectsV2Command({
        Bucket: lab.env.LAB_S3_BUCKET,
        Prefix: prefix,
        MaxKeys: 2,
        ContinuationToken: page1.NextContinuationToken,
      }),
    );
    expect([...(page1.Contents ?? []), ...(page2.Contents ?? [])].map((o) => o.Key)).toEqual(
      [1, 2, 3].map((n) => `${prefix}${n}`),
    );
    // an unknown access key id is refused (s3rver does not verify SigV4 signatures themselves)
    const bad = new S3Client({
      endpoint: lab.env.LAB_S3_ENDPOINT,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    });
    await expect(bad.send(new ListObjectsV2Command({ Bucket: lab.env.LAB_S3_BUCKET }))).rejects.toThrow();
    s3.destroy();
    bad.destroy();
  });

  it('fault: sshd down for N seconds, then back (open sessions survive)', async () => {
    const before = await lab.exec(a, 'echo still-here');
    expect(before.stdout.trim()).toBe('still-here');
    await lab.backend.sshdDown(a.container, 3);
    expect(await sshBanner(a.publicIpv4, 22, 1000)).toBeUndefined();
    const during = await lab.exec(a, 'echo session-alive'); // the fixture's open connection
    expect(during.stdout.trim()).toBe('session-alive');
    await expect
      .poll(() => sshBanner(a.publicIpv4, 22, 1000), { timeout: 15_000, interval: 500 })
      .toMatch(/^SSH-2\.0-/);
  });

  it('fault: disk full makes writes to the data disk fail with ENOSPC until freed', async () => {
    await lab.backend.diskFull(a.container, true);
    const w = await lab.exec(
      a,
      'dd if=/dev/zero of=/opt/app/big bs=1M count=5 2>&1; df --output=avail -B1 /var/lib/docker | tail -1',
    );
    expect(w.stdout).toMatch(/No space left on device/);
    await lab.backend.diskFull(a.container, false);
    const ok = await lab.exec(
      a,
      'dd if=/dev/zero of=/opt/app/big bs=1M count=5 2>/dev/null && rm /opt/app/big && echo written',
    );
    expect(ok.stdout.trim()).toBe('written');
  });
});
