/**
 * Writes OCI image archives (the layout `ctr image import` and buildah read) from a
 * folder, with only `tar` and Node's hashing: the node's own small images (pause,
 * CoreDNS, the volume helper) and the Debian + Node.js base the project's Dockerfiles
 * are built on here, without any registry.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, mkdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface ImageConfig {
  /** The name the image is imported under, for example `testenv.gossip.local/pause:1`. */
  name: string;
  entrypoint?: string[];
  cmd?: string[];
  env?: string[];
  user?: string;
  workingDir?: string;
}

async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/**
 * One uncompressed layer holding `rootfs`, a config, a manifest and an index annotated
 * with the image name; written to `out` (a tar). Deterministic: same folder, same digest.
 */
export async function writeOciArchive(
  rootfs: string,
  image: ImageConfig,
  out: string,
  work: string,
): Promise<void> {
  rmSync(work, { recursive: true, force: true });
  const blobs = join(work, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  const layer = join(work, 'layer.tar');
  execFileSync('tar', [
    '--sort=name',
    '--mtime=@0',
    '--owner=0',
    '--group=0',
    '--numeric-owner',
    '-C',
    rootfs,
    '-cf',
    layer,
    '.',
  ]);
  const layerDigest = await sha256File(layer);
  const layerSize = statSync(layer).size;
  renameSync(layer, join(blobs, layerDigest));
  const blob = (text: string): { digest: string; size: number } => {
    const digest = sha256(text);
    writeFileSync(join(blobs, digest), text);
    return { digest: `sha256:${digest}`, size: Buffer.byteLength(text) };
  };
  const config = blob(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: {
        Env: image.env ?? ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
        ...(image.entrypoint ? { Entrypoint: image.entrypoint } : {}),
        ...(image.cmd ? { Cmd: image.cmd } : {}),
        ...(image.user ? { User: image.user } : {}),
        WorkingDir: image.workingDir ?? '/',
      },
      rootfs: { type: 'layers', diff_ids: [`sha256:${layerDigest}`] },
      // Builders (buildah) match history entries to layers: one entry for the one layer.
      created: '1970-01-01T00:00:00Z',
      history: [{ created: '1970-01-01T00:00:00Z', created_by: 'gossip testenv oci.ts' }],
    }),
  );
  const manifest = blob(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
      layers: [
        {
          mediaType: 'application/vnd.oci.image.layer.v1.tar',
          digest: `sha256:${layerDigest}`,
          size: layerSize,
        },
      ],
    }),
  );
  const tag = image.name.slice(image.name.lastIndexOf(':') + 1);
  writeFileSync(
    join(work, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          ...manifest,
          platform: { architecture: 'amd64', os: 'linux' },
          annotations: {
            'io.containerd.image.name': image.name,
            'org.opencontainers.image.ref.name': tag,
          },
        },
      ],
    }),
  );
  writeFileSync(join(work, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const tmp = `${out}.tmp`;
  execFileSync('tar', ['-C', work, '-cf', tmp, 'oci-layout', 'index.json', 'blobs']);
  renameSync(tmp, out);
  rmSync(work, { recursive: true, force: true });
}
