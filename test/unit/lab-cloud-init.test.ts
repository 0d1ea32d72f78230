// Unit tests of the lab's host-side user_data digestion (test/lab/cloud-init.ts). The e2e test
// test/e2e/lab-infra.e2e.test.ts runs the result in a real droplet.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { digestUserData, q } from '../lab/cloud-init.js';

const b64Chunks = (script: string): string[] =>
  [...script.matchAll(/printf '%s' '([A-Za-z0-9+/=]+)' \| base64 -d/g)].map((m) =>
    Buffer.from(m[1]!, 'base64').toString(),
  );

const bashSyntaxOk = (script: string): void => {
  execFileSync('bash', ['-n'], { input: script });
};

describe('lab cloud-init digestion', () => {
  it('has nothing to run for empty user_data', () => {
    expect(digestUserData(undefined)).toEqual({ hostKeys: {}, warnings: [] });
    expect(digestUserData('  \n')).toEqual({ hostKeys: {}, warnings: [] });
  });

  it('extracts ssh_keys host keys (installed before sshd starts) with trailing newlines', () => {
    const d = digestUserData(
      '#cloud-config\nssh_keys:\n  ed25519_private: |\n    PRIVATE\n  ed25519_public: ssh-ed25519 AAAA host\n  rsa_certificate: CERT\n',
    );
    expect(d.hostKeys).toEqual({
      ssh_host_ed25519_key: 'PRIVATE\n',
      'ssh_host_ed25519_key.pub': 'ssh-ed25519 AAAA host\n',
      'ssh_host_rsa_key-cert.pub': 'CERT\n',
    });
    expect(d.script).toBeDefined();
    bashSyntaxOk(d.script!);
  });

  it('reads permissions as cloud-init (YAML 1.1) does and decodes b64/gzip content', () => {
    const gz = execFileSync('gzip', ['-c'], { input: 'zipped\n' }).toString('base64');
    const d = digestUserData(
      [
        '#cloud-config',
        'write_files:',
        '  - path: /a',
        '    content: hi',
        '    permissions: 0600',
        '  - path: /b',
        "    permissions: '0755'",
        '    encoding: b64',
        `    content: ${Buffer.from('decoded').toString('base64')}`,
        '  - path: /c',
        '    encoding: gz+b64',
        `    content: ${gz}`,
        '    append: true',
        '    owner: deploy:deploy',
        '    defer: true',
      ].join('\n'),
    );
    const s = d.script!;
    expect(s).toContain(`write_b64 '/a' 0600 'root:root' 0 ${q(Buffer.from('hi').toString('base64'))}`);
    expect(s).toContain(`write_b64 '/b' 0755 'root:root' 0 ${q(Buffer.from('decoded').toString('base64'))}`);
    expect(s).toContain(`write_b64 '/c' 0644 'deploy:deploy' 1 ${q(Buffer.from('zipped\n').toString('base64'))}`);
    // deferred files are written after users exist (and after runcmd), as cloud-init does
    expect(s.indexOf('run_module write_files_deferred')).toBeGreaterThan(s.indexOf('run_module write_files m_'));
    bashSyntaxOk(s);
  });

  it('writes runcmd as a /bin/sh script: strings verbatim, argv lists quoted', () => {
    const d = digestUserData("#cloud-config\nruncmd:\n  - echo one > /tmp/x\n  - [sh, -c, 'echo $0', \"it's\"]\n");
    expect(b64Chunks(d.script!)).toContain("#!/bin/sh\necho one > /tmp/x\n'sh' '-c' 'echo $0' 'it'\\''s'\n");
    bashSyntaxOk(d.script!);
  });

  it('creates users with groups, sudo rules and keys; warns about packages and unknown keys', () => {
    const d = digestUserData(
      '#cloud-config\nusers:\n  - default\n  - name: deploy\n    groups: docker, adm\n    sudo: ALL=(ALL) NOPASSWD:ALL\n    ssh_authorized_keys: [ssh-ed25519 AAAA k]\npackages: [jq, curl]\nfoo: 1\n',
    );
    const s = d.script!;
    expect(s).toContain("ensure_group 'docker'");
    expect(s).toContain("-G 'docker,adm'");
    expect(s).toContain("printf '%s\\n' 'deploy ALL=(ALL) NOPASSWD:ALL' >> /etc/sudoers.d/90-cloud-init-users");
    expect(s).toContain("printf '%s\\n' 'ssh-ed25519 AAAA k' >> '/home/deploy/.ssh/authorized_keys'");
    expect(s).toContain('packages jq, curl: not done');
    expect(d.warnings).toEqual(['foo: not supported by the lab, ignored']);
    bashSyntaxOk(s);
  });

  it('records invalid YAML as an error (status: error) and passes #! scripts through', () => {
    const bad = digestUserData('#cloud-config\nruncmd: [unclosed\n');
    expect(bad.script).toMatch(/lab_err '.*not valid YAML/);
    const sh = digestUserData('#!/bin/bash\necho hi\n');
    expect(b64Chunks(sh.script!)).toContain('#!/bin/bash\necho hi\n');
    expect(sh.script).toContain('run_module scripts_user "$SCRIPTS/part-001"');
    const other = digestUserData('just text');
    expect(other.warnings[0]).toMatch(/format not supported/);
  });
});
