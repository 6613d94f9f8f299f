/** The v2 known-answer checker, exactly as the page's bundle gets it from @gossip/crypto. */
export { checkVectors, computeVectors } from '@gossip/crypto';
