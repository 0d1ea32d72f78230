// The lab's S3 server (Spaces in the tests): as the actions' Spaces inputs, as our store, as a
// plain S3 client, and the keys under a prefix.
import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';

import { S3Store } from '../../src/lib/backup/store.js';
import type { LabFixture } from '../lab/fixture.js';

export function labSpaces(
  lab: LabFixture,
  prefix: string,
  overrides: Record<string, string> = {},
): Record<string, string> {
  return {
    'spaces-endpoint': lab.env.LAB_S3_ENDPOINT,
    'spaces-bucket': lab.env.LAB_S3_BUCKET,
    'spaces-prefix': prefix,
    'spaces-access-key-id': lab.env.LAB_S3_ACCESS_KEY_ID,
    'spaces-secret-access-key': lab.env.LAB_S3_SECRET_ACCESS_KEY,
    ...overrides,
  };
}

export function labStore(lab: LabFixture): S3Store {
  return new S3Store({
    endpoint: lab.env.LAB_S3_ENDPOINT,
    bucket: lab.env.LAB_S3_BUCKET,
    accessKeyId: lab.env.LAB_S3_ACCESS_KEY_ID,
    secretAccessKey: lab.env.LAB_S3_SECRET_ACCESS_KEY,
  });
}

/** A plain S3 client on the lab's server, configured as the actions' store configures its own. */
export function labS3Client(lab: LabFixture): S3Client {
  return labStore(lab).client;
}

/** Every key in the lab bucket under `prefix`, sorted (one page: the tests write a few dozen). */
export async function labKeys(lab: LabFixture, s3: S3Client, prefix: string): Promise<string[]> {
  const out = await s3.send(new ListObjectsV2Command({ Bucket: lab.env.LAB_S3_BUCKET, Prefix: prefix }));
  return (out.Contents ?? []).map((o) => o.Key as string).sort();
}
