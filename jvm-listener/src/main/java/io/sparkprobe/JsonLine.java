package io.sparkprobe;

import java.io.IOException;
import java.io.OutputStream;
import java.util.Arrays;

/**
 * A minimal append-only JSON writer straight into UTF-8 bytes, in a reusable buffer.
 *
 * <p>Two uses. A rare event's line is built in a buffer of its own and taken out with {@link #end}
 * (a {@code byte[]} queued as is). The sender thread's batch is one long-lived {@code JsonLine}:
 * every queued line and every captured event encoded into it one after the other, newline-ended,
 * and the whole batch goes to the socket in one write ({@link #writeTo}). No {@code String}, no
 * {@code StringBuilder}, no charset encoder per event: field names are pre-encoded ASCII, numbers
 * are written as ASCII digits here, and strings are escaped and encoded to UTF-8 in the same pass.
 *
 * <p>Callers write the punctuation and field names themselves ({@code raw(STAGE_ID)} where
 * {@code STAGE_ID = ascii(",\"stage_id\":")}), so the wire text is visible at the call site.
 * String values go through {@link #str}, which escapes per RFC 8259 (quote, backslash, control
 * characters as {@code \n}-style escapes or six-character backslash-u escapes in lowercase hex) and writes every other
 * character as UTF-8; an unpaired surrogate, which UTF-8 cannot carry, becomes {@code '?'}, exactly
 * as Java's UTF-8 encoder replaces it. The bytes are thus those the earlier {@code StringBuilder}
 * writer produced through an {@code OutputStreamWriter}. Hand-written so the listener needs no JSON
 * library on the driver classpath. Not thread-safe: one owner at a time.
 */
final class JsonLine {
    private static final byte[] HEX = ascii("0123456789abcdef");
    private static final byte[] TRUE = ascii("true");
    private static final byte[] FALSE = ascii("false");
    private static final byte[] LONG_MIN = ascii(Long.toString(Long.MIN_VALUE));
    /** The tens and ones digit of 0..99, for writing numbers two digits at a time. */
    private static final byte[] TENS = new byte[100];
    private static final byte[] ONES = new byte[100];

    static {
        for (int i = 0; i < 100; i++) {
            TENS[i] = (byte) ('0' + i / 10);
            ONES[i] = (byte) ('0' + i % 10);
        }
    }

    private byte[] buf;
    private int len;

    JsonLine(int capacity) {
        buf = new byte[Math.max(16, capacity)];
    }

    /** The bytes of an ASCII constant (field names, punctuation); for static finals. */
    static byte[] ascii(String s) {
        byte[] b = new byte[s.length()];
        for (int i = 0; i < b.length; i++) {
            char c = s.charAt(i);
            if (c >= 0x80) {
                throw new IllegalArgumentException("not ASCII: " + s);
            }
            b[i] = (byte) c;
        }
        return b;
    }

    /** Appends trusted, pre-encoded JSON text (punctuation and field names). */
    JsonLine raw(byte[] json) {
        int n = json.length;
        ensure(n);
        byte[] b = buf;
        int at = len;
        if (n <= 32) { // field names: a plain loop beats the call into the array-copy stub
            for (int i = 0; i < n; i++) {
                b[at + i] = json[i];
            }
        } else {
            System.arraycopy(json, 0, b, at, n);
        }
        len = at + n;
        return this;
    }

    /** Appends trusted ASCII JSON text given as a String (field names of rare events). */
    JsonLine raw(String ascii) {
        int n = ascii.length();
        ensure(n);
        byte[] b = buf;
        int at = len;
        for (int i = 0; i < n; i++) {
            b[at++] = (byte) ascii.charAt(i);
        }
        len = at;
        return this;
    }

    /** Appends one ASCII character. */
    JsonLine raw(char c) {
        ensure(1);
        buf[len++] = (byte) c;
        return this;
    }

    /** Appends a JSON integer: the decimal digits of {@code value}, as {@code Long.toString} writes them. */
    JsonLine num(long value) {
        ensure(20);
        byte[] b = buf;
        int at = len;
        if (value < 0) {
            if (value == Long.MIN_VALUE) {
                return raw(LONG_MIN);
            }
            b[at++] = '-';
            value = -value;
        }
        int end = at + digits(value);
        len = end;
        long v = value;
        while (v >= 100) { // two digits per division
            long q = v / 100;
            int r = (int) (v - q * 100);
            b[--end] = ONES[r];
            b[--end] = TENS[r];
            v = q;
        }
        int r = (int) v;
        b[--end] = ONES[r];
        if (r >= 10) {
            b[--end] = TENS[r];
        }
        return this;
    }

    /** Decimal digits of {@code v} (non-negative). */
    private static int digits(long v) {
        int d = 1;
        for (long p = 10; d < 19 && v >= p; p *= 10) {
            d++;
        }
        return d;
    }

    JsonLine bool(boolean value) {
        return raw(value ? TRUE : FALSE);
    }

    /** Appends {@code s} as a JSON string (escaped, UTF-8); {@code null} becomes {@code ""}. */
    JsonLine str(String s) {
        if (s == null) {
            ensure(2);
            buf[len++] = '"';
            buf[len++] = '"';
            return this;
        }
        int n = s.length();
        ensure(2 + 6 * n); // the longest a char can become: a six-byte backslash-u escape
        byte[] b = buf;
        int at = len;
        b[at++] = '"';
        for (int i = 0; i < n; i++) {
            char c = s.charAt(i);
            if (c < 0x80) {
                if (c >= 0x20 && c != '"' && c != '\\') {
                    b[at++] = (byte) c;
                    continue;
                }
                b[at++] = '\\';
                switch (c) {
                    case '"': b[at++] = '"'; break;
                    case '\\': b[at++] = '\\'; break;
                    case '\n': b[at++] = 'n'; break;
                    case '\r': b[at++] = 'r'; break;
                    case '\t': b[at++] = 't'; break;
                    case '\b': b[at++] = 'b'; break;
                    case '\f': b[at++] = 'f'; break;
                    default:
                        b[at++] = 'u';
                        b[at++] = '0';
                        b[at++] = '0';
                        b[at++] = HEX[c >> 4];
                        b[at++] = HEX[c & 0xF];
                }
            } else {
                int used = utf8(s, i, c, b, at);
                if (used > 0) {
                    at += used;
                } else { // a surrogate pair: four bytes for two chars
                    at -= used;
                    i++;
                }
            }
        }
        b[at++] = '"';
        len = at;
        return this;
    }

    /** Appends a whole pre-encoded line and its newline (the sender's batch). */
    JsonLine line(byte[] line) {
        int n = line.length;
        ensure(n + 1);
        System.arraycopy(line, 0, buf, len, n);
        len += n;
        buf[len++] = '\n';
        return this;
    }

    /** Closes the top-level object and returns the line's bytes (a rare event's own buffer). */
    byte[] end() {
        return raw('}').toBytes();
    }

    /** A copy of the bytes from {@code from} to {@code to}. */
    byte[] copy(int from, int to) {
        return Arrays.copyOfRange(buf, from, to);
    }

    /** A copy of the content. */
    byte[] toBytes() {
        return Arrays.copyOf(buf, len);
    }

    int size() {
        return len;
    }

    /** Drops what was appended after {@code size} (a line that failed half-way). */
    void truncate(int size) {
        len = Math.min(len, Math.max(0, size));
    }

    /** Forgets the content; keeps the buffer unless it grew past {@code keepBytes} (one huge line). */
    void clear(int keepBytes) {
        len = 0;
        if (buf.length > keepBytes) {
            buf = new byte[keepBytes];
        }
    }

    /** Writes the content to {@code out} in one call. */
    void writeTo(OutputStream out) throws IOException {
        out.write(buf, 0, len);
    }

    /** The content decoded (for tests and benchmarks). */
    String text() {
        return new String(buf, 0, len, java.nio.charset.StandardCharsets.UTF_8);
    }

    /**
     * Writes non-ASCII {@code c} (at {@code s[i]}) as UTF-8 at {@code b[at]}: the bytes used, or minus
     * four for a surrogate pair (which also takes {@code s[i + 1]}); an unpaired surrogate is '?'.
     */
    private static int utf8(String s, int i, char c, byte[] b, int at) {
        if (c < 0x800) {
            b[at] = (byte) (0xC0 | (c >> 6));
            b[at + 1] = (byte) (0x80 | (c & 0x3F));
            return 2;
        }
        if (!Character.isSurrogate(c)) {
            b[at] = (byte) (0xE0 | (c >> 12));
            b[at + 1] = (byte) (0x80 | ((c >> 6) & 0x3F));
            b[at + 2] = (byte) (0x80 | (c & 0x3F));
            return 3;
        }
        if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
            int cp = Character.toCodePoint(c, s.charAt(i + 1));
            b[at] = (byte) (0xF0 | (cp >> 18));
            b[at + 1] = (byte) (0x80 | ((cp >> 12) & 0x3F));
            b[at + 2] = (byte) (0x80 | ((cp >> 6) & 0x3F));
            b[at + 3] = (byte) (0x80 | (cp & 0x3F));
            return -4;
        }
        b[at] = '?';
        return 1;
    }

    private void ensure(int more) {
        if (len + more > buf.length) {
            buf = Arrays.copyOf(buf, Math.max(buf.length * 2, len + more));
        }
    }
}
