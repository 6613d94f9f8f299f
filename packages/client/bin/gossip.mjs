#!/usr/bin/env node
// The `gossip` command. The SDK is TypeScript run through tsx (no build step), so this
// shim registers tsx's loader and then runs the CLI; it works from any directory.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2), process.env);
