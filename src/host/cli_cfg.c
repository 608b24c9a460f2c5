// `swarm cfg`: a device's config through sys.cfg. `get` reads a whole subtree by walking MoaT's
// part form ([simple entries, keys of containers]) level by level, so the user sees one plain
// JSON tree; `set`, `del` (Proxy "-") and `apply` (p = d = nil) change it.
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_int.h"
#include "cli_opt.h"
#include "swarm/msg.h"

#define MAX_PATH 8 // SW_CFG_MAX_PATH of the node

static const char cfg_usage[] =
    "usage: swarm cfg [options] LINK get [PATH]\n"
    "       swarm cfg [options] LINK set PATH VALUE\n"
    "       swarm cfg [options] LINK del PATH\n"
    "       swarm cfg [options] LINK apply\n";

static const char cfg_about[] =
    "Reads and changes the config of the device at LINK (its sys.cfg command).\n"
    "\n"
    "  get [PATH]       prints the value at PATH (the whole config without PATH); maps and\n"
    "                   arrays are read completely, level by level, and printed as one tree\n"
    "  set PATH VALUE   sets PATH to VALUE: JSON when VALUE is valid JSON (5, true, \"5\",\n"
    "                   {\"t\": 5}), else the string itself; missing maps on the way are created;\n"
    "                   the device saves its config at once; a key its config does not have\n"
    "                   yet gets a warning (with the level's keys and 'did you mean')\n"
    "  del PATH         deletes the entry at PATH\n"
    "  apply            tells the device to take up the changed config (what can change while\n"
    "                   it runs)\n"
    "\n"
    "PATH is dotted (wdt.t, board.host_name); a number selects an array item (net.dns.0).\n";

static const char cfg_after[] =
    "examples:\n"
    "  swarm cfg localhost get\n"
    "  swarm cfg localhost get wdt.t\n"
    "  swarm cfg localhost set wdt '{\"t\": 10, \"s\": 4}'\n"
    "  swarm cfg localhost set board.host_name kitchen && swarm cfg localhost apply\n"
    "  swarm cfg localhost del apps.demo\n";

typedef struct walk {
    const sw_cli_t *cli;
    sw_hlink_t *l;
    size_t cap;              // reply buffer size per level
    sw_span_t path[MAX_PATH];// raw MsgPack path elements
    int depth;
    int status;              // exit status of the first failure
    char text[1024];
} walk_t;

// Writes {"p": [path…]} (+ "d") into w.
static void write_p(sw_mpw_t *w, const walk_t *k, int depth, bool with_d)
{
    sw_mpw_map(w, with_d ? 2 : 1);
    sw_mpw_cstr(w, "p");
    sw_mpw_array(w, (uint32_t)depth);
    for (int i = 0; i < depth; i++)
        sw_mpw_raw(w, k->path[i].p, k->path[i].n);
}

// One sys.cfg call; on failure prints the message and records the exit status.
static int cfg_call(walk_t *k, sw_span_t d, sw_mpw_t *out)
{
    int e = sw_hlink_call_sync(k->l, "sys.cfg", d, k->cli->timeout_ms, out, k->text,
                               sizeof k->text);
    if (e)
        k->status = sw__cli_call_failed(k->cli, "cfg", k->l, e, k->text);
    return e;
}

static int fetch(walk_t *k, int depth, sw_mpw_t *tree);

// A map in part form: [{simple k: v}, [keys of containers]].
static int walk_map(walk_t *k, int depth, sw_mpr_t *r, sw_mpw_t *tree)
{
    uint32_t simple, complex;
    sw_mpr_map(r, &simple);
    sw_span_t pairs = {r->p + r->pos, 0};
    for (uint32_t i = 0; i < 2 * simple; i++)
        sw_mpr_skip(r);
    pairs.n = (size_t)(r->p + r->pos - pairs.p);
    if (!sw_mpr_array(r, &complex) || sw_mpr_error(r))
        return SW_EPROTO;
    sw_mpw_map(tree, simple + complex);
    sw_mpw_raw(tree, pairs.p, pairs.n);
    for (uint32_t i = 0; i < complex; i++) {
        sw_span_t key;
        if (sw_mpr_span(r, &key))
            return SW_EPROTO;
        sw_mpw_raw(tree, key.p, key.n);
        k->path[depth] = key;
        int rc = fetch(k, depth + 1, tree);
        if (rc)
            return rc;
    }
    return 0;
}

// An array in part form: [[v, or nil for containers], [indices of containers]].
static int walk_array(walk_t *k, int depth, sw_mpr_t *r, sw_mpw_t *tree)
{
    uint32_t items, complex;
    sw_mpr_array(r, &items);
    sw_span_t *vals = calloc(items ? items : 1, sizeof *vals);
    bool *deep = calloc(items ? items : 1, sizeof *deep);
    int rc = vals && deep ? 0 : SW_EFULL;
    for (uint32_t i = 0; !rc && i < items; i++)
        if (sw_mpr_span(r, &vals[i]))
            rc = SW_EPROTO;
    if (!rc && !sw_mpr_array(r, &complex))
        rc = SW_EPROTO;
    for (uint32_t i = 0; !rc && i < complex; i++) {
        uint64_t idx;
        if (!sw_mpr_uint(r, &idx) || idx >= items)
            rc = SW_EPROTO;
        else
            deep[idx] = true;
    }
    if (!rc)
        sw_mpw_array(tree, items);
    uint8_t ibuf[10];
    for (uint32_t i = 0; !rc && i < items; i++) {
        if (!deep[i]) {
            sw_mpw_raw(tree, vals[i].p, vals[i].n);
            continue;
        }
        sw_mpw_t iw;
        sw_mpw_init(&iw, ibuf, sizeof ibuf);
        sw_mpw_uint(&iw, i);
        k->path[depth] = (sw_span_t){ibuf, iw.len};
        rc = fetch(k, depth + 1, tree);
    }
    free(vals);
    free(deep);
    return rc;
}

// Reads the node at path[0..depth) and appends its full value to tree.
static int fetch(walk_t *k, int depth, sw_mpw_t *tree)
{
    uint8_t req[1024];
    sw_mpw_t w;
    sw_mpw_init(&w, req, sizeof req);
    write_p(&w, k, depth, false);
    uint8_t *res = malloc(k->cap);
    if (!res || w.err) {
        free(res);
        return SW_EFULL;
    }
    sw_mpw_t out;
    sw_mpw_init(&out, res, k->cap);
    int rc = cfg_call(k, (sw_span_t){req, w.len}, &out);
    if (rc) {
        free(res);
        return rc;
    }
    sw_mpr_t r;
    sw_mpr_init(&r, res, out.len);
    uint32_t n;
    sw_mp_type_t t = sw_mpr_peek(&r);
    if (t != SW_MP_ARRAY) {
        sw_mpw_raw(tree, res, out.len); // a scalar is sent as itself
        free(res);
        return 0;
    }
    sw_mpr_array(&r, &n);
    t = sw_mpr_peek(&r);
    if (n != 2 || (t != SW_MP_MAP && t != SW_MP_ARRAY)) {
        rc = SW_EPROTO;
    } else if (depth >= MAX_PATH) {
        // cannot name anything deeper: keep the part form as it came
        sw_mpw_raw(tree, res, out.len);
    } else {
        // the reply buffer stays allocated while the levels below are read: they point into it
        rc = t == SW_MP_MAP ? walk_map(k, depth, &r, tree) : walk_array(k, depth, &r, tree);
    }
    if (rc == SW_EPROTO && !k->status) {
        sw_cli_error(k->cli, "cfg", "the device's answer to sys.cfg is not in the part form");
        k->status = SW_EXIT_REMOTE;
    }
    free(res);
    return rc;
}

#define KEYS_MAX 256 // keys of one level compared for "did you mean"

// Before a set: walks PATH level by level (one part-form sys.cfg each) and warns on stderr at
// the first key the device's config does not have, naming the level's keys and the closest
// one: a typo (wdt.tt) would otherwise silently create a key nothing reads. Failures to read
// are not reported (the set itself reports them).
static void warn_unknown(walk_t *k, const char *dotted)
{
    uint8_t *res = malloc(k->cap);
    if (!res)
        return;
    for (int i = 0; i < k->depth; i++) {
        uint8_t req[1024];
        sw_mpw_t w, out;
        sw_mpw_init(&w, req, sizeof req);
        write_p(&w, k, i, false);
        sw_mpw_init(&out, res, k->cap);
        char text[300];
        if (w.err || sw_hlink_call_sync(k->l, "sys.cfg", (sw_span_t){req, w.len}, k->cli->timeout_ms,
                                        &out, text, sizeof text))
            break;
        sw_mpr_t r;
        sw_mpr_init(&r, res, out.len);
        uint32_t n, simple, complex;
        if (!sw_mpr_array(&r, &n) || n != 2 || sw_mpr_peek(&r) != SW_MP_MAP)
            break; // an array level or a scalar: not checked
        sw_mpr_t want;
        sw_mpr_init(&want, k->path[i].p, k->path[i].n);
        sw_span_t key;
        if (!sw_mpr_str(&want, &key))
            break;
        char *names[KEYS_MAX];
        size_t nn = 0;
        bool found = false;
        char keys[600] = "";
        size_t at = 0;
        sw_mpr_map(&r, &simple);
        for (uint32_t j = 0; j < simple + 1 && !sw_mpr_error(&r); j++) {
            uint32_t count = 1;
            if (j == simple) { // then the keys of the containers
                if (!sw_mpr_array(&r, &complex))
                    break;
                count = complex;
            }
            for (uint32_t m = 0; m < count; m++) {
                sw_span_t s;
                bool str = sw_mpr_str(&r, &s);
                if (j < simple)
                    sw_mpr_skip(&r); // the value
                if (!str)
                    continue;
                found |= s.n == key.n && !memcmp(s.p, key.p, s.n);
                if (nn < KEYS_MAX && (names[nn] = strndup((const char *)s.p, s.n)))
                    nn++;
                if (at + s.n + 4 < sizeof keys)
                    at += (size_t)snprintf(keys + at, sizeof keys - at, "%s%.*s", at ? ", " : "",
                                           (int)s.n, (const char *)s.p);
            }
        }
        if (!found && !k->cli->quiet) {
            char name[128];
            snprintf(name, sizeof name, "%.*s", (int)key.n, (const char *)key.p);
            int plen = 0; // the dotted prefix of this level
            for (int d = 0; d < i; d++)
                plen += (int)strcspn(dotted + plen, ".") + 1;
            const char *near = sw__cli_suggest(name, (const char *const *)names, nn);
            sw__cli_warn(k->cli, "cfg", "the device's config has no '%s' %s%.*s%s(%s%s); "
                    "setting creates it", name, i ? "under '" : "at the top", i ? plen - 1 : 0,
                    dotted, i ? "' " : " ", nn ? "it has: " : "empty", keys);
            if (near)
            {
                char pre[300];
                snprintf(pre, sizeof pre, "%.*s", plen, dotted);
                sw__cli_did_you_mean(k->cli, pre, near);
            }
        }
        for (size_t j = 0; j < nn; j++)
            free(names[j]);
        if (!found)
            break;
    }
    free(res);
}

// Dotted PATH → raw MsgPack elements in buf (numbers → integers, the rest strings).
static int parse_path(const char *s, walk_t *k, uint8_t *buf, size_t cap, char *err, size_t ecap)
{
    k->depth = 0;
    if (!*s)
        return 0;
    sw_mpw_t w;
    sw_mpw_init(&w, buf, cap);
    const char *p = s;
    for (;;) {
        size_t n = strcspn(p, ".");
        if (n == 0) {
            snprintf(err, ecap, "bad PATH '%s' (an empty element)", s);
            return SW_EINVAL;
        }
        if (k->depth == MAX_PATH) {
            snprintf(err, ecap, "PATH '%s' is too deep (at most %d elements)", s, MAX_PATH);
            return SW_EINVAL;
        }
        size_t mark = w.len;
        bool digits = strspn(p, "0123456789") >= n && n < 19;
        if (digits)
            sw_mpw_uint(&w, strtoull(p, NULL, 10));
        else
            sw_mpw_str(&w, p, n);
        if (w.err) {
            snprintf(err, ecap, "PATH '%s' is too long", s);
            return SW_EINVAL;
        }
        k->path[k->depth++] = (sw_span_t){buf + mark, w.len - mark};
        p += n;
        if (!*p)
            return 0;
        p++;
    }
}

int sw_cli_cfg(const sw_cli_t *cli, int argc, char **argv)
{
    sw_cli_t c = *cli;
    const sw_opt_t opts[] = {SW_OPT_HELP_, SW_OPT_END_};
    static const char *const names[] = {"LINK", "get, set, del or apply", "ARGS...", NULL};
    sw_cli_spec_t spec = {.cmd = "cfg", .usage = cfg_usage, .about = cfg_about, .opts = opts,
                          .globals = "with --json, set/del/apply print the device's reply",
                          .after = cfg_after, .pos = names};
    int rc;
    if (!sw__cli_parse(&c, &spec, argc, argv, &rc))
        return rc;
    char **pos = spec.arg;
    int npos = spec.narg;
    const char *op = pos[1];
    int want = !strcmp(op, "get") ? -2 : !strcmp(op, "set") ? 4 : !strcmp(op, "del") ? 3
             : !strcmp(op, "apply") ? 2 : -1;
    if (want == -1)
        return sw__cli_usage(&c, "cfg", "unknown operation '%s' (use get, set, del or apply)", op);
    if ((want == -2 && npos > 3) || (want > 0 && npos != want)) {
        static const char *forms[] = {"", "", "cfg LINK apply", "cfg LINK del PATH",
                                      "cfg LINK set PATH VALUE"};
        return sw__cli_usage(&c, "cfg", "%s arguments for %s (swarm %s)",
                             want > 0 && npos < want ? "missing" : "too many", op,
                             want > 0 ? forms[want] : "cfg LINK get [PATH]");
    }

    walk_t k;
    memset(&k, 0, sizeof k);
    k.cli = &c;
    uint8_t pbuf[1024];
    char err[300];
    if (npos >= 3 && parse_path(pos[2], &k, pbuf, sizeof pbuf, err, sizeof err))
        return sw__cli_usage(&c, "cfg", "%s", err);
    if ((want == 4 || want == 3) && k.depth == 0)
        return sw__cli_usage(&c, "cfg", "%s needs a non-empty PATH", op);

    // the request, for set / del / apply
    static uint8_t req[1 << 16];
    sw_mpw_t w;
    sw_mpw_init(&w, req, sizeof req);
    if (want == 4 || want == 3) {
        write_p(&w, &k, k.depth, true);
        sw_mpw_cstr(&w, "d");
        if (want == 3)
            sw_msg_write_proxy(&w, SW_PROXY_NODATA);
        else if (sw__cli_value(pos[3], &w))
            return sw__cli_usage(&c, "cfg", "VALUE too large or not encodable");
    } else if (want == 2) {
        sw_mpw_map(&w, 2);
        sw_mpw_cstr(&w, "p");
        sw_mpw_nil(&w);
        sw_mpw_cstr(&w, "d");
        sw_mpw_nil(&w);
    }
    if (w.err)
        return sw__cli_usage(&c, "cfg", "arguments too large");

    uv_loop_t loop;
    uv_loop_init(&loop);
    rc = sw__cli_connect(&c, "cfg", &loop, pos[0], &k.l);
    if (rc) {
        sw__cli_finish(&loop, k.l);
        return rc;
    }
    k.cap = sw_hlink_max_msg(k.l);
    size_t tcap = 4u << 20;
    uint8_t *tbuf = malloc(tcap > k.cap ? tcap : k.cap);
    if (!tbuf) {
        sw_cli_error(&c, "cfg", "out of memory");
        sw__cli_finish(&loop, k.l);
        return SW_EXIT_LOCAL;
    }
    sw_mpw_t tree;
    sw_mpw_init(&tree, tbuf, tcap > k.cap ? tcap : k.cap);
    if (want == 4)
        warn_unknown(&k, pos[2]);
    if (want == -2) {
        int e = fetch(&k, k.depth, &tree);
        if (!e && tree.err) {
            sw_cli_error(&c, "cfg", "the config is too large to show (over %zu bytes)", tree.cap);
            rc = SW_EXIT_LOCAL;
        } else if (!e) {
            sw_cli_print_value(&c, stdout, tbuf, tree.len);
        } else {
            rc = k.status ? k.status : sw_cli_exit_for(e);
        }
    } else if (cfg_call(&k, (sw_span_t){req, w.len}, &tree) == 0) {
        if (c.json)
            sw_cli_print_value(&c, stdout, tbuf, tree.len);
        else if (c.verbose)
            fprintf(stderr, "swarm cfg: %s done\n", op);
    } else {
        rc = k.status;
    }
    free(tbuf);
    sw__cli_finish(&loop, k.l);
    return rc;
}
