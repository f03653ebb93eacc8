/*
 * PostgreSQL's text form of a record (a row value, record_out): "(1.5,,"{""a"": 1}")".
 * Fields are separated by commas; a field is double-quoted when it is empty or holds a
 * comma, a quote, a backslash, a parenthesis or white space, and within quotes '"' and
 * '\' are doubled (a backslash also escapes the character after it, as record_in
 * reads it); an empty unquoted field is NULL.
 */
#ifndef KPID_PG_RECORD_H
#define KPID_PG_RECORD_H

/*
 * Splits text into exactly n_fields fields. Returns 0 with ret_fields[0 .. n_fields-1]
 * set, each freshly allocated or NULL for a NULL field (the caller frees them); or
 * -EINVAL when text is not a record of n_fields fields, -ENOMEM (nothing is left
 * allocated then).
 */
int kpid_pg_record_split(const char *text, int n_fields, char **ret_fields);

#endif
