/**
 * Text from the network (decrypted messages, names, server error messages) goes to a
 * terminal, and a terminal obeys escape sequences: a message carrying ESC [ ... could
 * clear the screen, rewrite earlier lines, retitle the window or, on some terminals,
 * answer back with input. A newline or carriage return could forge a line that looks like
 * another sender's message. So every control character is shown as a visible escape.
 */

/**
 * C0 controls (including TAB, LF, CR and ESC), DEL, C1 controls (0x80-0x9f, which some
 * terminals take as CSI and friends), the line and paragraph separators, and the
 * bidirectional overrides and isolates that can make text read differently than it is
 * ("Trojan Source").
 */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** `text` with every control character replaced by a visible `\xNN` or `\u{NNNN}` escape. */
export function printable(text: string): string {
  return text.replace(UNSAFE, (c) => {
    const code = c.codePointAt(0) ?? 0;
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`;
  });
}
