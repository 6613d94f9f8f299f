/**
 * `spec.attachments`: the defaults are the services' own, each field reaches the variable the
 * api and the engine read (parsed here by their own `loadConfig`), and a quota that cannot
 * hold one largest file is refused offline with the CRD's CEL message.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig as loadApiConfig } from '@gossip/api';
import { loadConfig as loadEngineConfig } from '@gossip/engine';
import { attachmentCiphertextBytes } from '@gossip/protocol';
import { generateSigningJwk } from '@gossip/servicekit';
import { InvalidGossipClusterError, validateGossipCluster } from '../../src/api/validate.js';
import type { GossipClusterSpec } from '../../src/api/v1alpha1.js';
import { buildClusterObjects } from '../../src/build.js';
import { cluster, find } from '../fixtures.js';

const configOf = (spec: GossipClusterSpec, component: 'api' | 'engine') =>
  (
    find(buildClusterObjects(cluster(spec)), 'ConfigMap', `demo-${component}`) as unknown as {
      data: Record<string, string>;
    }
  ).data;

// What the services need besides their ConfigMap (the Secrets' variables), to parse it.
const apiSecrets = {
  API_MONGO_URL: 'mongodb://m:27017',
  API_REDIS_URL: 'redis://r:6379',
  API_JWT_PRIVATE_KEYS: JSON.stringify({ keys: [generateSigningJwk('k1', Buffer.alloc(32, 7))] }),
};
const engineSecrets = {
  ENGINE_AMQP_URL: 'amqp://q:5672',
  ENGINE_MONGO_URL: 'mongodb://m:27017',
  ENGINE_REDIS_URL: 'redis://r:6379',
};

const apiAttachments = (env: Record<string, string>) =>
  loadApiConfig({ ...apiSecrets, ...env }).attachments;
const engineAttachments = (env: Record<string, string>) => {
  const c = loadEngineConfig({ ...engineSecrets, ...env });
  return {
    retentionSeconds: c.attachmentRetentionSeconds,
    uploadTimeoutSeconds: c.attachmentUploadTimeoutSeconds,
  };
};

describe('spec.attachments', () => {
  it('defaults to what the api and the engine use when nothing is set', () => {
    // GIVEN an empty spec  WHEN built and parsed by each service
    const api = apiAttachments(configOf({}, 'api'));
    const engine = engineAttachments(configOf({}, 'engine'));
    // THEN each service sees its own defaults (the limits are set, not left out)
    assert.deepStrictEqual(api, apiAttachments({}));
    assert.deepStrictEqual(engine, engineAttachments({}));
    assert.equal(configOf({}, 'api').API_ATTACHMENT_MAX_BYTES, String(25 * 1024 * 1024));
    assert.equal(configOf({}, 'engine').ENGINE_ATTACHMENT_RETENTION_SECONDS, '604800');
  });

  it('passes each field to the variable the services read', () => {
    // GIVEN
    const spec: GossipClusterSpec = {
      attachments: {
        maxBytes: 1_000_000,
        quotaBytes: 50_000_000,
        retentionSeconds: 86_400,
        uploadTimeoutSeconds: 600,
      },
    };
    // WHEN
    const api = apiAttachments(configOf(spec, 'api'));
    const engine = engineAttachments(configOf(spec, 'engine'));
    // THEN
    assert.equal(api.maxBytes, 1_000_000);
    assert.equal(api.maxCiphertextBytes, attachmentCiphertextBytes(1_000_000));
    assert.equal(api.quotaBytes, 50_000_000);
    assert.equal(api.retentionSeconds, 86_400);
    assert.equal(api.uploadTimeoutSeconds, 600);
    assert.deepStrictEqual(engine, { retentionSeconds: 86_400, uploadTimeoutSeconds: 600 });
  });

  it('accepts a quota of exactly one largest file and refuses one byte less', () => {
    for (const maxBytes of [1, 65_536, 65_537, 25 * 1024 * 1024]) {
      const exact = attachmentCiphertextBytes(maxBytes);
      validateGossipCluster(cluster({ attachments: { maxBytes, quotaBytes: exact } }));
      assert.throws(
        () => validateGossipCluster(cluster({ attachments: { maxBytes, quotaBytes: exact - 1 } })),
        (err: unknown) =>
          err instanceof InvalidGossipClusterError &&
          err.problems.some((p) =>
            p.startsWith('spec.attachments: attachments.quotaBytes must hold at least one file'),
          ),
        `maxBytes ${maxBytes}`,
      );
    }
    // A quota below the default maxBytes, with maxBytes left to its default.
    assert.throws(() => validateGossipCluster(cluster({ attachments: { quotaBytes: 1_000 } })));
  });

  it('refuses sizes and durations out of range', () => {
    for (const attachments of [
      { maxBytes: 0 },
      { quotaBytes: -1 },
      { maxBytes: 5 * 1024 ** 3 },
      { retentionSeconds: 59 },
      { uploadTimeoutSeconds: 604_801 },
    ]) {
      assert.throws(
        () => validateGossipCluster(cluster({ attachments })),
        InvalidGossipClusterError,
        JSON.stringify(attachments),
      );
    }
  });
});
