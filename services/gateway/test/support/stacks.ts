/** Stacks for a describe whose tests each start their own. */
import { after } from 'node:test';
import { Stack } from './stack.js';

/**
 * Call it in a describe's body. The function it returns makes a stack with the users alice
 * and bob, contacts of each other unless `contacts` is false; every stack it made is closed
 * after the describe's tests.
 */
export function stackPerTest(): (name: string, o?: { contacts?: boolean }) => Promise<Stack> {
  const stacks: Stack[] = [];
  after(() => Promise.allSettled(stacks.map((s) => s.close())));
  return async (name, o = {}) => {
    const stack = new Stack(name);
    stacks.push(stack);
    await stack.createUsers('alice', 'bob');
    if (o.contacts !== false) await stack.makeContacts('alice', 'bob');
    return stack;
  };
}
