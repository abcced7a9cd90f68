/**
 * Plain text from untrusted output. Evaluator stdout and stderr (and anything quoted from them) may hold
 * terminal escape sequences: colours (`ESC [ 31 m`), cursor moves that rewrite what a terminal shows,
 * OSC 8 hyperlinks (`ESC ] 8 ; ; http://evil ESC \`) and other controls. None of them may reach a
 * comment, a check run, a job summary or a terminal line as they are. Pure.
 */

/* eslint-disable no-control-regex -- matching control characters is this module's purpose. */

/** CSI: `ESC [` or the C1 byte 0x9B, parameters, intermediates and a final byte (consumed even when cut short). */
const CSI = /(?:\x1b\[|\x9b)[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]?/g;
/**
 * String sequences: OSC (`ESC ]`, 0x9D), DCS (`ESC P`, 0x90), SOS (`ESC X`, 0x98), PM (`ESC ^`, 0x9E) and
 * APC (`ESC _`, 0x9F), up to their terminator (BEL, `ESC \` or 0x9C). One left open ends at the line's end,
 * so the hyperlink target or title it carries is removed with it rather than shown as text.
 */
const STRING_SEQUENCE = /(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c\n]*(?:\x07|\x1b\\|\x9c)?/g;
/** Any other escape sequence: ESC, intermediates, a final byte (`ESC ( B`, `ESC c`, `ESC 7`). */
const OTHER_ESCAPE = /\x1b[\x20-\x2f]*[\x30-\x7e]?/g;
/** C0 controls except tab and line feed, DEL, C1 controls, and the bidirectional overrides that make text read otherwise than it is. */
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/g;

/**
 * `text` without ANSI escape sequences (CSI, OSC and the other string sequences, two-byte escapes) and
 * without C0 and C1 control characters (except `\n` and `\t`) or bidirectional overrides. A CRLF becomes `\n`. The result holds no
 * character in U+0000–U+001F (but `\t`, `\n`), U+007F–U+009F; stripping it again changes nothing.
 */
export function stripControl(text: string): string {
  return text
    .replace(/\r\n/g, '\n')
    .replace(STRING_SEQUENCE, '')
    .replace(CSI, '')
    .replace(OTHER_ESCAPE, '')
    .replace(CONTROL, '');
}
