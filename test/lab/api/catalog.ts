// Static catalogue of the API fake: regions, sizes and public (distribution/application) images.
// A realistic subset of what DigitalOcean lists. Image → droplet variant mapping (documented here and
// in README): a Debian 12 / bookworm image becomes the `bookworm` droplet variant (Compose v1);
// every other image (Ubuntu, Debian 13, Docker application images) becomes `trixie` (Compose v2).
// A snapshot keeps the variant of the droplet it was taken from.
import type { DropletVariant } from '../contract.js';

export interface RegionDef {
  slug: string;
  name: string;
}

export const REGIONS: RegionDef[] = [
  { slug: 'nyc1', name: 'New York 1' },
  { slug: 'nyc3', name: 'New York 3' },
  { slug: 'sfo3', name: 'San Francisco 3' },
  { slug: 'ams3', name: 'Amsterdam 3' },
  { slug: 'fra1', name: 'Frankfurt 1' },
  { slug: 'lon1', name: 'London 1' },
  { slug: 'sgp1', name: 'Singapore 1' },
  { slug: 'tor1', name: 'Toronto 1' },
];

export const REGION_FEATURES = ['backups', 'ipv6', 'metadata', 'install_agent', 'storage', 'image_transfer'];

export interface SizeDef {
  slug: string;
  memory: number;
  vcpus: number;
  disk: number;
  transfer: number;
  price_monthly: number;
  price_hourly: number;
  description: string;
}

export const SIZES: SizeDef[] = [
  {
    slug: 's-1vcpu-512mb-10gb',
    memory: 512,
    vcpus: 1,
    disk: 10,
    transfer: 0.5,
    price_monthly: 4,
    price_hourly: 0.00595,
    description: 'Basic',
  },
  {
    slug: 's-1vcpu-1gb',
    memory: 1024,
    vcpus: 1,
    disk: 25,
    transfer: 1,
    price_monthly: 6,
    price_hourly: 0.00893,
    description: 'Basic',
  },
  {
    slug: 's-1vcpu-2gb',
    memory: 2048,
    vcpus: 1,
    disk: 50,
    transfer: 2,
    price_monthly: 12,
    price_hourly: 0.01786,
    description: 'Basic',
  },
  {
    slug: 's-2vcpu-2gb',
    memory: 2048,
    vcpus: 2,
    disk: 60,
    transfer: 3,
    price_monthly: 18,
    price_hourly: 0.02679,
    description: 'Basic',
  },
  {
    slug: 's-2vcpu-4gb',
    memory: 4096,
    vcpus: 2,
    disk: 80,
    transfer: 4,
    price_monthly: 24,
    price_hourly: 0.03571,
    description: 'Basic',
  },
  {
    slug: 's-4vcpu-8gb',
    memory: 8192,
    vcpus: 4,
    disk: 160,
    transfer: 5,
    price_monthly: 48,
    price_hourly: 0.07143,
    description: 'Basic',
  },
  {
    slug: 'c-2',
    memory: 4096,
    vcpus: 2,
    disk: 25,
    transfer: 4,
    price_monthly: 42,
    price_hourly: 0.0625,
    description: 'CPU-Optimized',
  },
];

export interface ImageDef {
  id: number;
  slug: string;
  name: string;
  distribution: string;
  type: 'base' | 'snapshot' | 'custom' | 'backup';
  min_disk_size: number;
  size_gigabytes: number;
  description: string;
  created_at: string;
  variant: DropletVariant;
  /** application images list as type "snapshot" on DigitalOcean with a slug; kept as in the real API */
  application: boolean;
}

export const PUBLIC_IMAGES: ImageDef[] = [
  {
    id: 160232537,
    slug: 'ubuntu-24-04-x64',
    name: '24.04 (LTS) x64',
    distribution: 'Ubuntu',
    type: 'base',
    min_disk_size: 7,
    size_gigabytes: 2.67,
    description: 'Ubuntu 24.04 x64',
    created_at: '2024-07-09T14:50:22Z',
    variant: 'trixie',
    application: false,
  },
  {
    id: 160233341,
    slug: 'ubuntu-22-04-x64',
    name: '22.04 (LTS) x64',
    distribution: 'Ubuntu',
    type: 'base',
    min_disk_size: 7,
    size_gigabytes: 2.35,
    description: 'Ubuntu 22.04 x64',
    created_at: '2024-07-09T14:51:03Z',
    variant: 'trixie',
    application: false,
  },
  {
    id: 155133621,
    slug: 'debian-12-x64',
    name: '12 x64',
    distribution: 'Debian',
    type: 'base',
    min_disk_size: 7,
    size_gigabytes: 1.23,
    description: 'Debian 12 (bookworm) x64',
    created_at: '2024-05-02T16:32:44Z',
    variant: 'bookworm',
    application: false,
  },
  {
    id: 190155014,
    slug: 'debian-13-x64',
    name: '13 x64',
    distribution: 'Debian',
    type: 'base',
    min_disk_size: 7,
    size_gigabytes: 1.31,
    description: 'Debian 13 (trixie) x64',
    created_at: '2025-08-12T10:02:11Z',
    variant: 'trixie',
    application: false,
  },
  {
    id: 112929454,
    slug: 'docker-20-04',
    name: 'Docker 19.03.12 on Ubuntu 20.04',
    distribution: 'Ubuntu',
    type: 'snapshot',
    min_disk_size: 25,
    size_gigabytes: 4.3,
    description: 'Docker on Ubuntu 20.04',
    created_at: '2022-08-26T20:38:41Z',
    variant: 'trixie',
    application: true,
  },
  {
    id: 157409817,
    slug: 'docker-20-04-x64',
    name: 'Docker on Ubuntu 22.04',
    distribution: 'Ubuntu',
    type: 'snapshot',
    min_disk_size: 25,
    size_gigabytes: 4.9,
    description: 'Docker 26 on Ubuntu 22.04',
    created_at: '2024-06-10T09:15:27Z',
    variant: 'trixie',
    application: true,
  },
];

/** Variant for a public image: debian-12 / bookworm → bookworm, anything else → trixie. */
export function variantForImage(img: { slug: string | null; name: string; description?: string }): DropletVariant {
  const s = `${img.slug ?? ''} ${img.name} ${img.description ?? ''}`.toLowerCase();
  return /debian-12|bookworm/.test(s) ? 'bookworm' : 'trixie';
}
