// `swarm fs`: paths on both sides — joining, splitting, the device's root — and the check a
// name a device lists must pass before it names a local file.
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_fs_int.h"

// Joins a directory and a name with one '/' ("" or "/" is the root: the name alone).
char *sw__fs_join(const char *dir, const char *name)
{
    size_t n = strlen(dir);
    while (n && dir[n - 1] == '/')
        n--;
    char *s = NULL;
    if (n == 0) {
        s = strdup(name);
    } else if (asprintf(&s, "%.*s/%s", (int)n, dir, name) < 0) {
        s = NULL;
    }
    if (!s) {
        fputs("swarm fs: out of memory\n", stderr);
        exit(SW_EXIT_LOCAL);
    }
    return s;
}

// The last element of a path (trailing slashes ignored) into buf; "" for the root.
void sw__fs_base_name(const char *p, char *buf, size_t cap)
{
    size_t n = strlen(p);
    while (n && p[n - 1] == '/')
        n--;
    size_t b = n;
    while (b && p[b - 1] != '/')
        b--;
    snprintf(buf, cap, "%.*s", (int)(n - b), p + b);
}

// The directory part of a path ("/" when there is none).
void sw__fs_parent_of(const char *p, char *buf, size_t cap)
{
    size_t n = strlen(p);
    while (n && p[n - 1] == '/')
        n--;
    while (n && p[n - 1] != '/')
        n--;
    while (n && p[n - 1] == '/')
        n--;
    if (n)
        snprintf(buf, cap, "%.*s", (int)n, p);
    else
        snprintf(buf, cap, "/");
}

bool sw__fs_ends_with_slash(const char *p)
{
    size_t n = strlen(p);
    return n && p[n - 1] == '/';
}

// True if a device path names its root ("", "/", ".", "//./").
bool sw__fs_is_root(const char *p)
{
    for (; *p; p++)
        if (*p != '/' && !(*p == '.' && (p[1] == '/' || !p[1])))
            return false;
    return true;
}

// A name from a device's listing, checked before it names a local file: every name a device
// sends is untrusted (a hostile or impersonated node may list "../../.bashrc"). One path
// element of text: not empty, not "." or "..", no '/', no NUL, no control byte.
bool sw__fs_safe_name(const ent_t *e)
{
    const char *s = e->name;
    if (e->bad_name || !s || !s[0] || !strcmp(s, ".") || !strcmp(s, ".."))
        return false;
    for (; *s; s++)
        if (*s == '/' || (unsigned char)*s < 0x20 || *s == 0x7f)
            return false;
    return true;
}
