/*
 * The shape of a query's SQL (kpid_pull_sql_check, spec.h): a lexer that knows
 * PostgreSQL's quotes and comments well enough to find the top level of a statement. It
 * is a guard against mistakes (a LIMIT that would make the plugin miss rows, a ';' that
 * hides a second statement) and a first wall against hostile text; the server's parser,
 * a READ ONLY transaction and a role that may only SELECT are the others.
 */
#include "pull/spec.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Top-level words that page or lock: the plugin pages the query itself. */
static const char *const paging_words[] = {"LIMIT", "OFFSET", "FETCH", NULL};

typedef struct lexer {
    const char *s;
    size_t len, i;
    char *why;
    size_t why_size;
} lexer;

__attribute__((format(printf, 2, 3))) static long bad(lexer *lx, const char *fmt, ...);

static long bad(lexer *lx, const char *fmt, ...)
{
    va_list ap;

    if (lx->why_size > 0) {
        va_start(ap, fmt);
        vsnprintf(lx->why, lx->why_size, fmt, ap);
        va_end(ap);
    }
    return -EINVAL;
}

static bool ident_start(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
}

static bool ident_char(unsigned char c)
{
    return ident_start(c) || (c >= '0' && c <= '9') || c == '$';
}

static bool space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Skips a comment at lx->i (which starts with "--" or slash-star): 1 when one was
 * skipped, 0 when none starts there, -EINVAL when a block comment is not closed. */
static long skip_comment(lexer *lx)
{
    const char *s = lx->s;

    if (lx->i + 1 < lx->len && s[lx->i] == '-' && s[lx->i + 1] == '-') {
        while (lx->i < lx->len && s[lx->i] != '\n')
            lx->i++;
        return 1;
    }
    if (lx->i + 1 < lx->len && s[lx->i] == '/' && s[lx->i + 1] == '*') {
        size_t depth = 0;
        while (lx->i + 1 < lx->len) {
            if (s[lx->i] == '/' && s[lx->i + 1] == '*') {
                depth++;
                lx->i += 2;
            } else if (s[lx->i] == '*' && s[lx->i + 1] == '/') {
                lx->i += 2;
                if (--depth == 0)
                    return 1;
            } else {
                lx->i++;
            }
        }
        return bad(lx, "has a comment that is not closed");
    }
    return 0;
}

/* Skips white space and comments. Returns 0 or -EINVAL. */
static long skip_blank(lexer *lx)
{
    for (;;) {
        while (lx->i < lx->len && space((unsigned char)lx->s[lx->i]))
            lx->i++;
        long r = skip_comment(lx);
        if (r <= 0)
            return r;
    }
}

/* Skips a quoted string or identifier that starts at lx->i with quote; backslash escapes
 * count in E'...' strings. Returns 0 or -EINVAL. */
static long skip_quoted(lexer *lx, char quote, bool backslash)
{
    const char *s = lx->s;

    for (lx->i++; lx->i < lx->len; lx->i++) {
        if (backslash && s[lx->i] == '\\') {
            lx->i++;
            continue;
        }
        if (s[lx->i] != quote)
            continue;
        if (lx->i + 1 < lx->len && s[lx->i + 1] == quote) {
            lx->i++; /* a doubled quote */
            continue;
        }
        lx->i++;
        return 0;
    }
    return bad(lx, "has a %s that is not closed", quote == '"' ? "quoted identifier" : "string");
}

/* At '$': skips a dollar-quoted string ($$...$$, $tag$...$tag$) and returns 1, returns 0
 * when '$' starts none, or -EINVAL (a parameter, or a string not closed). */
static long skip_dollar(lexer *lx)
{
    const char *s = lx->s;
    size_t start = lx->i, j = lx->i + 1;

    if (j < lx->len && s[j] >= '0' && s[j] <= '9')
        return bad(lx, "has a parameter ($%c): the plugin binds its own", s[j]);
    if (j < lx->len && ident_start((unsigned char)s[j]))
        while (j < lx->len && ident_char((unsigned char)s[j]) && s[j] != '$')
            j++;
    if (j >= lx->len || s[j] != '$')
        return 0;
    size_t tag_len = j + 1 - start; /* "$tag$" */
    for (size_t k = j + 1; k + tag_len <= lx->len; k++)
        if (s[k] == '$' && memcmp(s + k, s + start, tag_len) == 0) {
            lx->i = k + tag_len;
            return 1;
        }
    return bad(lx, "has a dollar-quoted string that is not closed");
}

/* Reads the word at lx->i into word (upper case, cut to size) and returns its length. */
static size_t read_word(lexer *lx, char *word, size_t size)
{
    size_t start = lx->i, n = 0;

    while (lx->i < lx->len && ident_char((unsigned char)lx->s[lx->i])) {
        char c = lx->s[lx->i++];
        if (n + 1 < size)
            word[n++] = (char)(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
    }
    word[n] = '\0';
    return lx->i - start;
}

/* The next word after lx->i, past blanks and comments, upper case (lx->i unchanged). */
static void peek_word(lexer *lx, char *word, size_t size)
{
    size_t keep = lx->i;

    word[0] = '\0';
    if (skip_blank(lx) == 0 && lx->i < lx->len && ident_start((unsigned char)lx->s[lx->i]))
        read_word(lx, word, size);
    lx->i = keep;
}

/* Checks a word at the top level (depth 0). */
static long top_word(lexer *lx, const char *w)
{
    char next[16];

    for (size_t k = 0; paging_words[k]; k++)
        if (strcmp(w, paging_words[k]) == 0)
            return bad(lx,
                       "has %s at its top level: the plugin pages the query itself "
                       "(move it into a subquery, or quote a column so named)",
                       w);
    if (strcmp(w, "ORDER") == 0) {
        peek_word(lx, next, sizeof(next));
        if (strcmp(next, "BY") == 0)
            return bad(lx, "has ORDER BY at its top level: the plugin orders the rows by "
                           "watermark and tiebreaker itself");
    }
    if (strcmp(w, "FOR") == 0) {
        peek_word(lx, next, sizeof(next));
        if (strcmp(next, "UPDATE") == 0 || strcmp(next, "SHARE") == 0 || strcmp(next, "NO") == 0 ||
            strcmp(next, "KEY") == 0)
            return bad(lx, "has FOR %s: a HIS source only reads, it locks no rows", next);
    }
    return 0;
}

long kpid_pull_sql_check(const char *sql, size_t len, char *why, size_t why_size)
{
    lexer lx = {.s = sql, .len = len, .why = why, .why_size = why_size};
    char word[16];
    size_t depth = 0, end = 0;
    bool first = true, semicolon = false;
    long r;

    if (why_size > 0)
        why[0] = '\0';
    if (memchr(sql, '\0', len))
        return bad(&lx, "has a NUL byte");
    for (;;) {
        if ((r = skip_blank(&lx)) < 0)
            return r;
        if (lx.i >= len)
            break;
        if (semicolon)
            return bad(&lx, "has more after ';': one statement only");
        unsigned char c = (unsigned char)sql[lx.i];
        if (first && !ident_start(c) && c != '(')
            return bad(&lx, "must start with SELECT or WITH");
        if (ident_start(c)) {
            size_t n = read_word(&lx, word, sizeof(word));
            if (n == 1 &&
                (word[0] == 'E' || word[0] == 'U' || word[0] == 'B' || word[0] == 'X' ||
                 word[0] == 'N') &&
                lx.i < len && sql[lx.i] == '\'') {
                if ((r = skip_quoted(&lx, '\'', word[0] == 'E')) < 0)
                    return r;
            } else if (first && strcmp(word, "SELECT") != 0 && strcmp(word, "WITH") != 0) {
                return bad(&lx, "must start with SELECT or WITH");
            } else if (depth == 0 && (r = top_word(&lx, word)) < 0) {
                return r;
            }
        } else if (c == '\'') {
            if ((r = skip_quoted(&lx, '\'', false)) < 0)
                return r;
        } else if (c == '"') {
            if ((r = skip_quoted(&lx, '"', false)) < 0)
                return r;
        } else if (c == '$') {
            if ((r = skip_dollar(&lx)) < 0)
                return r;
            if (r == 0)
                lx.i++;
        } else if (c == '(') {
            depth++;
            lx.i++;
        } else if (c == ')') {
            if (depth == 0)
                return bad(&lx, "has a ')' without its '('");
            depth--;
            lx.i++;
        } else if (c == ';') {
            if (depth > 0)
                return bad(&lx, "has a ';' within parentheses");
            semicolon = true;
            lx.i++;
            first = false;
            continue; /* end stays before the ';' */
        } else if (c >= '0' && c <= '9') {
            while (lx.i < len && (ident_char((unsigned char)sql[lx.i]) || sql[lx.i] == '.'))
                lx.i++;
        } else {
            lx.i++;
        }
        first = false;
        end = lx.i;
    }
    if (first)
        return bad(&lx, "is empty");
    if (depth > 0)
        return bad(&lx, "has a '(' that is not closed");
    return (long)end;
}
