// `swarm __complete words -- WORD...`: the words a shell may offer for the last WORD of a
// command line. The completion scripts of bash, zsh and fish (tools/completion/) only pass the
// line in and show what comes out, so all three offer the same words. What a command accepts
// comes from its own option table and positional argument names: with cli->complete set,
// sw__cli_parse lists them instead of parsing (cli_opt.c), so a new option or command is
// offered without touching the scripts. Device names come from the user's config and the scan
// cache; a device's command paths from its _dir (`call LINK <TAB>`) and its files from a
// listing (`fs LINK get <TAB>`: fs's table says which arguments are device paths); those two
// use the network, with a short timeout. Nothing is printed when the shell should offer files.
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_int.h"
#include "cli_opt.h"
#include "scan.h"
#include "user_config.h"

#define MAX_OPTS 96
#define MAX_POS 8

// What a command line may hold, as sw__cli_parse describes it.
typedef struct shape {
    char *text;                  // the description (owned); the fields below point into it
    struct {
        const char *name;        // "--every", "-r"
        bool value;              // takes a value (the next word, or --name=VALUE)
        const char *arg;         // the value's name in --help ("SELECTOR", "URI", "TIME")
        const char *choices;     // an enum's values, blank-separated ("" if none)
    } opt[MAX_OPTS];
    int nopt;
    const char *pos[MAX_POS];    // positional argument names ("LINK", "PATH", "ARGS...")
    int npos;
} shape_t;

// The shape of a command (cmd) or of swarm itself (cmd NULL: top, the spec of its options).
static bool shape_of(const sw_cli_t *cli, const sw_cli_cmd_t *cmd, sw_cli_spec_t *top,
                     shape_t *sh)
{
    memset(sh, 0, sizeof *sh);
    size_t len = 0;
    FILE *f = open_memstream(&sh->text, &len);
    if (!f)
        return false;
    sw_cli_t c = *cli;
    c.complete = f;
    char *argv[2] = {(char *)(cmd ? cmd->name : "swarm"), NULL};
    int rc;
    if (cmd)
        cmd->fn(&c, 1, argv);
    else
        sw__cli_parse(&c, top, 1, argv, &rc);
    fclose(f);
    if (!sh->text)
        return false;
    for (char *line = sh->text, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = 0;
        if (!strncmp(line, "opt ", 4) && sh->nopt < MAX_OPTS) {
            char *name = line + 4, *rest = strchr(name, ' ');
            sh->opt[sh->nopt].choices = sh->opt[sh->nopt].arg = "";
            if (rest && rest[1] == '=') { // " =ARG choices..."
                *rest = 0;
                char *arg = rest + 2, *ch = strchr(arg, ' ');
                if (ch)
                    *ch++ = 0;
                sh->opt[sh->nopt].value = true;
                sh->opt[sh->nopt].arg = arg;
                sh->opt[sh->nopt].choices = ch ? ch : "";
            }
            sh->opt[sh->nopt++].name = name;
        } else if (!strncmp(line, "pos ", 4) && sh->npos < MAX_POS) {
            sh->pos[sh->npos++] = line + 4;
        }
    }
    return true;
}

static int find_opt(const shape_t *sh, const char *w)
{
    for (int i = 0; i < sh->nopt; i++)
        if (!strcmp(sh->opt[i].name, w))
            return i;
    return -1;
}

static bool is_opt(const char *w)
{
    return w[0] == '-' && w[1];
}

// Walks words[from, to): options (and their values) are skipped, the positional arguments
// are collected into pos (at most cap); returns how many there were.
static int positionals(const shape_t *sh, char **w, int from, int to, char **pos, int cap)
{
    int n = 0;
    bool opts = true;
    for (int i = from; i < to; i++) {
        if (opts && !strcmp(w[i], "--")) {
            opts = false;
        } else if (opts && is_opt(w[i])) {
            int k = strchr(w[i], '=') ? -1 : find_opt(sh, w[i]);
            if (k >= 0 && sh->opt[k].value)
                i++;
        } else {
            if (n < cap)
                pos[n] = w[i];
            n++;
        }
    }
    return n;
}

// Candidates, filtered by the word being completed.
#define MAX_OFFERS 1024

typedef struct out {
    const char *cur;
    int n;
    char *seen[MAX_OFFERS]; // what was offered (each word once: --timeout is global and scan's)
} out_t;

static void offer(out_t *o, const char *w, size_t len)
{
    size_t c = strlen(o->cur);
    if (len < c || strncmp(w, o->cur, c) || o->n >= MAX_OFFERS)
        return;
    for (int i = 0; i < o->n; i++)
        if (strlen(o->seen[i]) == len && !strncmp(o->seen[i], w, len))
            return;
    if (!(o->seen[o->n] = strndup(w, len)))
        return;
    o->n++;
    printf("%.*s\n", (int)len, w);
}

// The blank- or comma-separated words of a list ("get, set, del or apply", "a b c").
static void offer_list(out_t *o, const char *list)
{
    for (const char *p = list; *p;) {
        p += strspn(p, " ,");
        size_t k = strcspn(p, " ,)");
        if (k && !(k == 2 && !strncmp(p, "or", 2)))
            offer(o, p, k);
        p += k;
        if (*p == ')')
            break;
    }
}

static void offer_names(out_t *o, char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        offer(o, names[i], strlen(names[i]));
    free(names);
}

static void offer_devices(out_t *o, bool groups)
{
    char **names;
    size_t n;
    if (groups) {
        sw_config_names("groups", &names, &n);
        offer_names(o, names, n);
    }
    sw_config_names("devices", &names, &n);
    offer_names(o, names, n);
    if (sw_scan_cache_names(&names, &n) == 0)
        offer_names(o, names, n);
}

// `call LINK <TAB>`: the device's command paths (its _dir tree), captured from stdout.
static void offer_paths(const sw_cli_t *cli, out_t *o, const char *link)
{
    sw_cli_t c = *cli;
    c.quiet = true;
    if (!c.timeout_ms || c.timeout_ms > 2000)
        c.timeout_ms = 2000;
    FILE *t = tmpfile();
    if (!t)
        return;
    fflush(stdout);
    int saved = dup(1);
    if (saved < 0 || dup2(fileno(t), 1) < 0) {
        fclose(t);
        if (saved >= 0)
            close(saved);
        return;
    }
    sw__cli_dir_paths(&c, link);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    rewind(t);
    char line[512];
    while (fgets(line, sizeof line, t)) {
        size_t n = strcspn(line, "\n");
        if (n)
            offer(o, line, n);
    }
    fclose(t);
}

// fs LINK CMD ARG...: what fs's own table says the argument is; a device path is completed
// from a listing of its directory on the device (the network, with a short timeout).
static void offer_fs_paths(const sw_cli_t *cli, out_t *o, const char *link, const char *cmd, int k)
{
    FILE *t = tmpfile();
    if (!t)
        return;
    sw__cli_fs_complete(cli, link, cmd, k, o->cur, t);
    rewind(t);
    char line[1024];
    while (fgets(line, sizeof line, t)) {
        size_t n = strcspn(line, "\n");
        if (n)
            offer(o, line, n);
    }
    fclose(t);
}

static void offer_commands(out_t *o, const sw_cli_cmd_t *cmds, size_t ncmds)
{
    for (size_t i = 0; i < ncmds; i++)
        offer(o, cmds[i].name, strlen(cmds[i].name));
}

// What a positional argument named name takes. pos: the positional words before it.
static void offer_pos(const sw_cli_t *cli, out_t *o, const shape_t *sh, int k, char **pos,
                      const sw_cli_cmd_t *cmds, size_t ncmds)
{
    const char *name = NULL;
    if (k < sh->npos)
        name = sh->pos[k];
    else if (sh->npos && strstr(sh->pos[sh->npos - 1], "..."))
        name = sh->pos[sh->npos - 1]; // "ARGS...", "LINK...": any number
    if (!name)
        return;
    const char *paren = strchr(name, '(');
    if (strstr(name, "LINK") || strstr(name, "DEVICE"))
        offer_devices(o, false);
    else if (!strcmp(name, "PATH") && k > 0)
        offer_paths(cli, o, pos[k - 1]); // call LINK PATH
    else if (paren)
        offer_list(o, paren + 1); // "COMMAND (ls, cat, ...)"
    else if (strstr(name, "COMMAND"))
        offer_commands(o, cmds, ncmds); // help [COMMAND]
    else if (strchr(name, ','))
        offer_list(o, name); // "get, set, del or apply"
    // else: a file, code, arguments: nothing (the shell offers files)
}

int sw__cli_complete(const sw_cli_t *cli, const sw_cli_cmd_t *cmds, size_t ncmds,
                     struct sw_cli_spec *top, int nw, char **w)
{
    if (nw < 1)
        return SW_EXIT_USAGE;
    // no error text may land in the prompt
    int nul = open("/dev/null", O_WRONLY);
    if (nul >= 0) {
        dup2(nul, 2);
        close(nul);
    }
    static out_t o; // (large)
    o.cur = w[nw - 1];
    o.n = 0;
    const char *prev = nw >= 2 ? w[nw - 2] : "";
    shape_t sh;
    if (!shape_of(cli, NULL, top, &sh))
        return SW_EXIT_LOCAL;
    // swarm's own options, then the command
    int i = 1;
    const sw_cli_cmd_t *cmd = NULL;
    for (; i < nw - 1; i++) {
        if (!is_opt(w[i])) {
            for (size_t k = 0; k < ncmds && !cmd; k++)
                if (!strcmp(cmds[k].name, w[i]))
                    cmd = &cmds[k];
            break;
        }
        int k = strchr(w[i], '=') ? -1 : find_opt(&sh, w[i]);
        if (k >= 0 && sh.opt[k].value)
            i++;
    }
    if (!cmd && i < nw - 1) { // an unknown command: nothing to offer
        free(sh.text);
        return SW_EXIT_OK;
    }
    if (cmd) {
        free(sh.text);
        if (!shape_of(cli, cmd, NULL, &sh))
            return SW_EXIT_LOCAL;
    }
    int k = is_opt(prev) && !strchr(prev, '=') ? find_opt(&sh, prev) : -1;
    if (k >= 0 && sh.opt[k].value) {
        // the value of an option, by its name in the table: a selector takes groups too
        const char *arg = sh.opt[k].arg;
        if (!strcmp(arg, "SELECTOR"))
            offer_devices(&o, true);
        else if (!strcmp(arg, "URI") || !strcmp(arg, "LINK") || !strcmp(arg, "NAME"))
            offer_devices(&o, false);
        else
            offer_list(&o, sh.opt[k].choices);
    } else if (o.cur[0] == '-') {
        for (int j = 0; j < sh.nopt; j++)
            offer(&o, sh.opt[j].name, strlen(sh.opt[j].name));
    } else if (!cmd) {
        offer_commands(&o, cmds, ncmds);
    } else {
        char *pos[MAX_POS];
        int n = positionals(&sh, w, i + 1, nw - 1, pos, MAX_POS);
        if (!strcmp(cmd->name, "fs") && n >= 2) // fs LINK CMD ...: device paths (cli_fs.c)
            offer_fs_paths(cli, &o, pos[0], pos[1], n - 2);
        else if (n < MAX_POS)
            offer_pos(cli, &o, &sh, n, pos, cmds, ncmds);
    }
    free(sh.text);
    for (int j = 0; j < o.n; j++)
        free(o.seen[j]);
    fflush(stdout);
    return SW_EXIT_OK;
}
