/**
 * Every form in which a secret value could show up in a log: the value itself, each of
 * its lines, its base64 and URL-encoded forms. Masking only the raw value lets
 * `Authorization: Basic <base64>` or `postgres://u:p%40ss@…` leak.
 */
export function secretForms(value: string): string[] {
  const forms = new Set<string>();
  const add = (form: string): void => {
    if (form.trim().length >= 3) forms.add(form);
  };
  add(value);
  for (const line of value.split(/\r?\n/)) add(line.trim());
  add(Buffer.from(value, 'utf8').toString('base64'));
  add(encodeURIComponent(value));
  add(encodeURIComponent(value).replace(/%20/g, '+'));
  return [...forms];
}

/** `user:pass` and its base64 (HTTP Basic, registry auth). */
export function credentialPairForms(user: string, password: string): string[] {
  const pair = `${user}:${password}`;
  return [...secretForms(password), ...secretForms(pair)];
}

/** The password (and user:password pair) embedded in a URL such as postgresql://u:p@host/db. */
export function urlCredentialForms(url: string): string[] {
  const forms = secretForms(url);
  try {
    const parsed = new URL(url);
    const password = decodeURIComponent(parsed.password);
    if (password) forms.push(...credentialPairForms(decodeURIComponent(parsed.username), password));
  } catch {
    // not a URL: the raw forms are all there is
  }
  return forms;
}

export type SecretSink = (value: string) => void;

/** Registers a secret and its derived forms with the runner's masker (core.setSecret). */
export function maskSecret(sink: SecretSink, value: string, kind: 'plain' | 'url' = 'plain'): void {
  if (!value) return;
  const forms = kind === 'url' ? urlCredentialForms(value) : secretForms(value);
  for (const form of new Set(forms)) sink(form);
}

/** Replaces every known secret form in a text (for summaries and errors we build ourselves). */
export function redact(text: string, secrets: readonly string[]): string {
  const forms = [...new Set(secrets.flatMap((s) => (s ? secretForms(s) : [])))].sort((a, b) => b.length - a.length);
  let out = text;
  for (const form of forms) out = out.split(form).join('***');
  return out;
}
