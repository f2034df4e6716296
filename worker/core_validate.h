/*
 * core_validate.h — checks on user input that the API applies before it
 * touches the database. Pure functions over (pointer, length); strings may
 * contain NUL bytes, which every check refuses.
 *
 * Lengths are in characters (Unicode code points) where the schema counts
 * characters (display names, workspace and room names), in bytes where the
 * value is ASCII by construction (usernames).
 */
#ifndef CHORUS_WK_CORE_VALIDATE_H
#define CHORUS_WK_CORE_VALIDATE_H

#include <stddef.h>

#define WK_USERNAME_MIN   3
#define WK_USERNAME_MAX   32
#define WK_PASSWORD_MIN   8       /* characters */
#define WK_PASSWORD_MAX   256     /* characters */
#define WK_DISPLAY_MAX    64      /* characters */
#define WK_NAME_MAX       100     /* characters: workspace and room names */
#define WK_DESC_MAX       2000    /* characters: board descriptions */

/* Number of code points in s if it is valid UTF-8 without NUL, else -1. */
long wk_utf8_chars(const char *s, size_t len);

/* ^[a-z0-9_.-]{3,32}$ */
int wk_valid_username(const char *s, size_t len);

/* 8..256 characters of valid UTF-8 without NUL. */
int wk_valid_password(const char *s, size_t len);

/* 1..max characters of valid UTF-8, no control characters (C0, DEL, C1),
 * not only spaces. Used for display names (max 64) and workspace / room
 * names (max 100). */
int wk_valid_label(const char *s, size_t len, size_t max);

/* Like wk_valid_label but 0..max characters and newlines and tabs allowed
 * (descriptions). */
int wk_valid_text(const char *s, size_t len, size_t max);

/* "chat", "whiteboard" or "board". */
int wk_valid_room_kind(const char *s);

/* A positive decimal id without sign or leading zeros that fits in int64:
 * 1 and *out, or 0. */
int wk_parse_id(const char *s, size_t len, long long *out);

#endif
