#!/usr/bin/env node
// A stand-in for `mongosh` in the MongoDB stand-in image: it understands only what the
// managed StatefulSet's readiness probe runs, `mongosh --quiet --norc --eval
// "db.adminCommand('ping').ok"`, and answers it with a real OP_MSG ping to the local server
// (printing 1 and exiting 0 when the server says ok). Anything else fails loudly.
import { connect } from 'node:net';

const evalArg = process.argv[process.argv.indexOf('--eval') + 1] ?? '';
if (!/adminCommand\(\s*['"{]\s*ping/.test(evalArg)) {
  process.stderr.write(`mongosh stand-in: only the ping probe is supported, got: ${evalArg}\n`);
  process.exit(2);
}

/** BSON for {ping: 1, $db: "admin"}. */
function pingDoc() {
  const parts = [
    Buffer.from([0x10]),
    Buffer.from('ping\0'),
    Buffer.from([1, 0, 0, 0]),
    Buffer.from([0x02]),
    Buffer.from('$db\0'),
    Buffer.from([6, 0, 0, 0]),
    Buffer.from('admin\0'),
    Buffer.from([0]),
  ];
  const body = Buffer.concat(parts);
  const len = Buffer.alloc(4);
  len.writeInt32LE(body.length + 4);
  return Buffer.concat([len, body]);
}

const doc = pingDoc();
const header = Buffer.alloc(16 + 4 + 1);
header.writeInt32LE(16 + 4 + 1 + doc.length, 0);
header.writeInt32LE(1, 4);
header.writeInt32LE(0, 8);
header.writeInt32LE(2013, 12); // OP_MSG
header.writeUInt32LE(0, 16);
header.writeUInt8(0, 20); // section kind 0: body
const sock = connect({ host: '127.0.0.1', port: 27017 });
const timer = setTimeout(() => {
  process.stderr.write('mongosh stand-in: no answer\n');
  process.exit(1);
}, 5000);
let reply = Buffer.alloc(0);
sock.on('connect', () => sock.write(Buffer.concat([header, doc])));
sock.on('data', (chunk) => {
  reply = Buffer.concat([reply, chunk]);
  if (reply.length < 4 || reply.length < reply.readInt32LE(0)) return;
  clearTimeout(timer);
  sock.destroy();
  // The reply document's "ok" field is a double (0x01) named "ok".
  const at = reply.indexOf(Buffer.from([0x01, 0x6f, 0x6b, 0x00]), 21);
  const ok = at >= 0 && reply.readDoubleLE(at + 4) === 1;
  process.stdout.write(ok ? '1\n' : '0\n');
  process.exit(ok ? 0 : 1);
});
sock.on('error', (err) => {
  process.stderr.write(`mongosh stand-in: ${err.message}\n`);
  process.exit(1);
});
