/** v2 end-to-end encryption (issue 16): prekeys, X3DH with an RSA-OAEP hybrid, Double Ratchet. */
export * from './prekeys.js';
