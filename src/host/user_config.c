// The user's swarm config file (config.h): named devices, groups of selectors, defaults. Read
// whole on each question: it is small, and commands ask it a few times at most.
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "user_config.h"
#include "swarm/sw.h"

#define CONFIG_MAX (256u << 10) // a larger file is not read

int sw_config_path(char *buf, size_t cap)
{
    const char *xdg = getenv("XDG_CONFIG_HOME");
    const char *home = getenv("HOME");
    int k;
    if (xdg && xdg[0] == '/')
        k = snprintf(buf, cap, "%s/swarm/config", xdg);
    else if (home && home[0])
        k = snprintf(buf, cap, "%s/.config/swarm/config", home);
    else
        return SW_ENOENT;
    return k > 0 && (size_t)k < cap ? 0 : SW_ETOOBIG;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = 0;
    return s;
}

// Calls fn(section, key, value, u) for every entry; fn returns true to stop.
static void each_entry(bool (*fn)(const char *sec, const char *key, const char *val, void *u), void *u)
{
    char path[4096];
    if (sw_config_path(path, sizeof path))
        return;
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char line[2048], sec[128] = "";
    size_t total = 0;
    while (fgets(line, sizeof line, f) && (total += strlen(line)) <= CONFIG_MAX) {
        for (char *c = line; *c; c++) // a comment: '#' at the start or after a blank
            if (*c == '#' && (c == line || c[-1] == ' ' || c[-1] == '\t')) {
                *c = 0;
                break;
            }
        char *s = trim(line);
        if (!*s)
            continue;
        if (*s == '[') {
            char *e = strchr(s, ']');
            if (e) {
                *e = 0;
                snprintf(sec, sizeof sec, "%s", trim(s + 1));
            }
            continue;
        }
        char *eq = strchr(s, '=');
        if (!eq)
            continue;
        *eq = 0;
        if (fn(sec, trim(s), trim(eq + 1), u))
            break;
    }
    fclose(f);
}

typedef struct get_q {
    const char *sec, *key;
    char *out;
    size_t cap;
    bool found;
} get_q_t;

static bool get_one(const char *sec, const char *key, const char *val, void *u)
{
    get_q_t *q = u;
    if (strcmp(sec, q->sec) || strcmp(key, q->key))
        return false;
    q->found = strlen(val) < q->cap;
    if (q->found)
        memcpy(q->out, val, strlen(val) + 1);
    return true;
}

bool sw_config_get(const char *section, const char *key, char *out, size_t cap)
{
    get_q_t q = {section, key, out, cap, false};
    if (cap)
        out[0] = 0;
    each_entry(get_one, &q);
    return q.found;
}

typedef struct names_q {
    const char *sec;
    char **v;
    size_t n, cap;
} names_q_t;

static bool add_name(const char *sec, const char *key, const char *val, void *u)
{
    (void)val;
    names_q_t *q = u;
    if (strcmp(sec, q->sec) || q->n >= 1024)
        return false;
    if (q->n == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 16;
        char **v = realloc(q->v, cap * sizeof *v);
        if (!v)
            return true;
        q->v = v;
        q->cap = cap;
    }
    char *s = strdup(key);
    if (s)
        q->v[q->n++] = s;
    return false;
}

void sw_config_names(const char *section, char ***names, size_t *n)
{
    names_q_t q = {section, NULL, 0, 0};
    each_entry(add_name, &q);
    *names = NULL;
    *n = 0;
    if (!q.n) {
        free(q.v);
        return;
    }
    // one block: the pointers, then the strings (free(*names) frees all)
    size_t bytes = q.n * sizeof(char *);
    for (size_t i = 0; i < q.n; i++)
        bytes += strlen(q.v[i]) + 1;
    char **out = malloc(bytes);
    if (out) {
        char *at = (char *)(out + q.n);
        for (size_t i = 0; i < q.n; i++) {
            size_t len = strlen(q.v[i]) + 1;
            out[i] = memcpy(at, q.v[i], len);
            at += len;
        }
        *names = out;
        *n = q.n;
    }
    for (size_t i = 0; i < q.n; i++)
        free(q.v[i]);
    free(q.v);
}
