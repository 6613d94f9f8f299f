/**
 * Reads the page's IndexedDB. A string, not a function: tsx would wrap a function's
 * inner arrows in a `__name` helper the page does not have.
 */
export const STORAGE_PROBE = `(async () => {
  const db = await new Promise((ok, fail) => {
    const r = indexedDB.open('gossip-web');
    r.onsuccess = () => ok(r.result);
    r.onerror = () => fail(r.error);
  });
  const all = (store) =>
    new Promise((ok, fail) => {
      const r = db.transaction(store).objectStore(store).getAll();
      r.onsuccess = () => ok(r.result);
      r.onerror = () => fail(r.error);
    });
  const text = async (store) =>
    JSON.stringify(await all(store), (_k, v) =>
      v instanceof ArrayBuffer || ArrayBuffer.isView(v) ? new TextDecoder().decode(v) : v,
    );
  const ids = await all('identity');
  return {
    identities: ids.length,
    privateExtractable: ids.flatMap((i) => [
      i.keys.wrapping.privateKey.extractable,
      i.keys.signing.privateKey.extractable,
    ]),
    stored: (await text('history')) + (await text('messenger')) + (await text('session')),
  };
})()`;
