/** The node's own images, written once into the cache as OCI archives. */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { cacheRoot, type Progress } from './build-cache.js';
import type { NodeBinaries } from './install.js';
import { NODE_IMAGES } from './node-layout.js';
import { writeOciArchive } from './oci.js';
import { VERSIONS } from './versions.js';

/**
 * The node's small images as OCI archives in the cache, written once: pause,
 * CoreDNS and local-path-provisioner (each one static binary), and busybox for the
 * provisioner's helper pods (it runs `mkdir` and `rm` in a shell).
 */
export async function ensureNodeImages(bin: NodeBinaries, progress: Progress): Promise<string[]> {
  const dir = join(
    cacheRoot(),
    `node-images-${VERSIONS.kubernetes}-${VERSIONS.coredns}-${VERSIONS.localPath}`,
  );
  mkdirSync(dir, { recursive: true });
  const specs: [string, string, { file: string; to: string }[], string[]][] = [
    ['pause', NODE_IMAGES.pause, [{ file: bin.pause, to: 'pause' }], ['/pause']],
    ['coredns', NODE_IMAGES.coredns, [{ file: bin.coredns, to: 'coredns' }], ['/coredns']],
    [
      'local-path',
      NODE_IMAGES.localPath,
      [{ file: bin.localPath, to: 'usr/bin/local-path-provisioner' }],
      ['/usr/bin/local-path-provisioner'],
    ],
    ['busybox', NODE_IMAGES.busybox, [{ file: '/bin/busybox', to: 'bin/busybox' }], ['/bin/sh']],
  ];
  const tars: string[] = [];
  for (const [key, name, files, entrypoint] of specs) {
    const tar = join(dir, `${key}.tar`);
    tars.push(tar);
    if (existsSync(tar)) continue;
    const rootfs = join(dir, `${key}.rootfs`);
    rmSync(rootfs, { recursive: true, force: true });
    for (const f of files) {
      const to = join(rootfs, f.to);
      mkdirSync(join(to, '..'), { recursive: true });
      execFileSync('cp', [f.file, to]);
    }
    if (key === 'busybox') {
      for (const applet of ['sh', 'mkdir', 'rm', 'rmdir', 'chmod', 'ls', 'cat', 'sleep']) {
        symlinkSync('busybox', join(rootfs, 'bin', applet));
      }
      mkdirSync(join(rootfs, 'tmp'));
    }
    await writeOciArchive(
      rootfs,
      { name, entrypoint, env: ['PATH=/usr/local/bin:/usr/bin:/bin'] },
      tar,
      join(dir, `${key}.work`),
    );
    rmSync(rootfs, { recursive: true, force: true });
    progress(`  wrote image ${name}`);
  }
  return tars;
}
