/*
 * core_validate.c — input checks (see core_validate.h).
 *
 * The UTF-8 decoder refuses overlong forms, surrogates and code points
 * above U+10FFFF, so a length in characters here is the length PostgreSQL's
 * char_length() computes for the same text.
 */
#include "core_validate.h"

#include <stdint.h>
#include <string.h>

/* Decodes one code point at s[*i]; advances *i. -1 on invalid UTF-8. */
static long
next_cp(const unsigned char *s, size_t len, size_t *i)
{
    unsigned char c = s[*i];
    uint32_t cp;
    size_t n;

    if (c < 0x80) { (*i)++; return c; }
    if (c >= 0xC2 && c <= 0xDF) { n = 1; cp = c & 0x1F; }
    else if (c >= 0xE0 && c <= 0xEF) { n = 2; cp = c & 0x0F; }
    else if (c >= 0xF0 && c <= 0xF4) { n = 3; cp = c & 0x07; }
    else return -1;
    if (*i + n >= len)   /* the n continuation bytes must all be there */
        return -1;
    for (size_t k = 1; k <= n; k++) {
        unsigned char cc = s[*i + k];
        if ((cc & 0xC0) != 0x80) return -1;
        cp = cp << 6 | (cc & 0x3F);
    }
    if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return -1;
    *i += n + 1;
    return (long)cp;
}

long
wk_utf8_chars(const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    long count = 0;

    if (!s) return -1;
    while (i < len) {
        long cp = next_cp(u, len, &i);
        if (cp <= 0) return -1;   /* invalid, or NUL */
        count++;
    }
    return count;
}

int
wk_valid_username(const char *s, size_t len)
{
    if (!s || len < WK_USERNAME_MIN || len > WK_USERNAME_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
            return 0;
    }
    return 1;
}

int
wk_valid_password(const char *s, size_t len)
{
    long n = wk_utf8_chars(s, len);
    return n >= WK_PASSWORD_MIN && n <= WK_PASSWORD_MAX;
}

/* Shared body of wk_valid_label / wk_valid_text. */
static int
valid_chars(const char *s, size_t len, size_t min, size_t max, int multiline)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, count = 0;
    int visible = 0;

    if (!s) return 0;
    while (i < len) {
        long cp = next_cp(u, len, &i);
        if (cp <= 0) return 0;
        if (cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp < 0xA0)) {
            if (!(multiline && (cp == '\n' || cp == '\t' || cp == '\r')))
                return 0;
        } else if (cp != ' ') {
            visible = 1;
        }
        if (++count > max) return 0;
    }
    if (count < min) return 0;
    return min == 0 || visible;
}

int
wk_valid_label(const char *s, size_t len, size_t max)
{
    return valid_chars(s, len, 1, max, 0);
}

int
wk_valid_text(const char *s, size_t len, size_t max)
{
    return valid_chars(s, len, 0, max, 1);
}

int
wk_valid_room_kind(const char *s)
{
    return s && (strcmp(s, "chat") == 0 || strcmp(s, "whiteboard") == 0 || strcmp(s, "board") == 0);
}

int
wk_parse_id(const char *s, size_t len, long long *out)
{
    long long v = 0;

    if (!s || len == 0 || len > 18 || s[0] == '0')
        return 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return 0;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 1;
}
