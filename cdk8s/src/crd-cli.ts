/**
 * `npm run -w @gossip/cdk8s crd`: writes the CRD to generated/gossip.dev_gossipclusters.yaml.
 * A unit test fails when the committed file differs from what this produces.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { crdFile, renderCrdYaml } from './crd-yaml.js';

mkdirSync(dirname(crdFile), { recursive: true });
writeFileSync(crdFile, await renderCrdYaml());
console.log(`wrote ${crdFile}`);
