// Lua's string patterns with a work budget: string.find, match, gmatch and gsub, written here
// instead of the library's own. The library's matcher backtracks inside one C call, where the
// VM's count hook never runs, so a pattern like ("a*"):rep(40).."b" against 40 a's ran for
// ever and froze the node. This matcher charges every step to the running task's instruction
// budget (sw__lua_charge), so such a match ends with "instruction limit exceeded" like any
// other loop. The pattern language and the four functions behave as in the Lua 5.4 manual
// (§6.4.1); only the budget is new.
#include "profile.h"
#if SW_WITH_LUA
#include <ctype.h>
#include <string.h>

#include "lua_int.h"

#define MAX_CAPTURES SW_LUA_MATCH_CAPTURES // profile.h
#define MAX_DEPTH SW_LUA_MATCH_DEPTH       // profile.h: nested match() calls before "pattern too complex"
#define CHARGE_EVERY 256 // steps gathered before they are charged
#define STEP_COST 4      // instructions one step of the matcher counts as (it is slower than one)

enum { CAP_OPEN = -1, CAP_POS = -2 };

typedef struct mstate {
    lua_State *L;
    const char *s0, *se; // subject
    const char *p0, *pe; // pattern
    int depth;           // match() calls still allowed
    int level;           // captures opened
    unsigned steps;      // not yet charged
    struct {
        const char *at;
        ptrdiff_t len; // or CAP_OPEN / CAP_POS
    } cap[MAX_CAPTURES];
} mstate_t;

static void step(mstate_t *m, unsigned k)
{
    m->steps += k;
    if (m->steps >= CHARGE_EVERY) {
        unsigned s = m->steps;
        m->steps = 0;
        sw__lua_charge(m->L, (uint64_t)s * STEP_COST);
    }
}

static void flush(mstate_t *m)
{
    unsigned s = m->steps;
    m->steps = 0;
    if (s)
        sw__lua_charge(m->L, (uint64_t)s * STEP_COST);
}

static void init_state(mstate_t *m, lua_State *L, const char *s, size_t ls, const char *p, size_t lp)
{
    m->L = L;
    m->s0 = s;
    m->se = s + ls;
    m->p0 = p;
    m->pe = p + lp;
    m->steps = 0;
}

static void restart(mstate_t *m)
{
    m->level = 0;
    m->depth = MAX_DEPTH;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Single characters against pattern items

// The end of the single-character item at p (a character, %x, a [set] or '.').
static const char *item_end(mstate_t *m, const char *p)
{
    char c = *p++;
    if (c == '%') {
        if (p >= m->pe)
            luaL_error(m->L, "malformed pattern (ends with '%%')");
        return p + 1;
    }
    if (c != '[')
        return p;
    if (p < m->pe && *p == '^')
        p++;
    // the set's first character is taken literally, even a ']'
    for (;;) {
        if (p >= m->pe)
            luaL_error(m->L, "malformed pattern (missing ']')");
        char d = *p++;
        if (d == '%' && p < m->pe)
            p++;
        if (p < m->pe && *p == ']')
            return p + 1;
    }
}

static bool class_has(int c, int cl)
{
    bool r;
    switch (tolower(cl)) {
    case 'a': r = isalpha(c); break;
    case 'c': r = iscntrl(c); break;
    case 'd': r = isdigit(c); break;
    case 'g': r = isgraph(c); break;
    case 'l': r = islower(c); break;
    case 'p': r = ispunct(c); break;
    case 's': r = isspace(c); break;
    case 'u': r = isupper(c); break;
    case 'w': r = isalnum(c); break;
    case 'x': r = isxdigit(c); break;
    default: return cl == c; // %. %% %( …: the character itself
    }
    return isupper(cl) ? !r : r;
}

// p: the '[' of a set, last: its closing ']'.
static bool set_has(int c, const char *p, const char *last)
{
    bool in = true;
    p++;
    if (*p == '^') {
        in = false;
        p++;
    }
    for (; p < last; p++) {
        if (*p == '%' && p + 1 < last) {
            p++;
            if (class_has(c, (unsigned char)*p))
                return in;
        } else if (p + 2 < last && p[1] == '-') {
            if ((unsigned char)p[0] <= c && c <= (unsigned char)p[2])
                return in;
            p += 2;
        } else if ((unsigned char)*p == c) {
            return in;
        }
    }
    return !in;
}

static bool one_match(const mstate_t *m, const char *s, const char *p, const char *ep)
{
    if (s >= m->se)
        return false;
    int c = (unsigned char)*s;
    switch (*p) {
    case '.': return true;
    case '%': return class_has(c, (unsigned char)p[1]);
    case '[': return set_has(c, p, ep - 1);
    default: return (unsigned char)*p == c;
    }
}

///////////////////////////////////////////////////////////////////////////////////////////////
// The matcher: returns the end of the match of pattern p at s, or NULL.

static const char *match(mstate_t *m, const char *s, const char *p);

static const char *greedy(mstate_t *m, const char *s, const char *p, const char *ep)
{
    size_t k = 0;
    while (one_match(m, s + k, p, ep)) {
        k++;
        step(m, 1);
    }
    for (;;) { // the longest run first, then shorter ones
        const char *r = match(m, s + k, ep + 1);
        if (r)
            return r;
        if (k == 0)
            return NULL;
        k--;
    }
}

static const char *lazy(mstate_t *m, const char *s, const char *p, const char *ep)
{
    for (;;) {
        const char *r = match(m, s, ep + 1);
        if (r)
            return r;
        if (!one_match(m, s, p, ep))
            return NULL;
        s++;
    }
}

static const char *open_capture(mstate_t *m, const char *s, const char *p, ptrdiff_t what)
{
    if (m->level >= MAX_CAPTURES)
        luaL_error(m->L, "too many captures");
    m->cap[m->level].at = s;
    m->cap[m->level].len = what;
    m->level++;
    const char *r = match(m, s, p);
    if (!r)
        m->level--;
    return r;
}

static const char *close_capture(mstate_t *m, const char *s, const char *p)
{
    int i = m->level - 1;
    while (i >= 0 && m->cap[i].len != CAP_OPEN)
        i--;
    if (i < 0)
        luaL_error(m->L, "invalid pattern capture");
    m->cap[i].len = s - m->cap[i].at;
    const char *r = match(m, s, p);
    if (!r)
        m->cap[i].len = CAP_OPEN;
    return r;
}

static int capture_index(mstate_t *m, int d)
{
    int i = d - '1';
    if (i < 0 || i >= m->level || m->cap[i].len == CAP_OPEN)
        return luaL_error(m->L, "invalid capture index %%%d", i + 1);
    return i;
}

static const char *back_ref(mstate_t *m, const char *s, int d)
{
    int i = capture_index(m, d);
    ptrdiff_t len = m->cap[i].len;
    if (len < 0 || m->se - s < len) // a position capture never matches text
        return NULL;
    step(m, (unsigned)(len / 16));
    return memcmp(m->cap[i].at, s, (size_t)len) ? NULL : s + len;
}

static const char *balance(mstate_t *m, const char *s, const char *p)
{
    if (p + 1 >= m->pe)
        luaL_error(m->L, "malformed pattern (missing arguments to '%%b')");
    if (s >= m->se || *s != p[0])
        return NULL;
    int depth = 1;
    while (++s < m->se) {
        step(m, 1);
        if (*s == p[1]) {
            if (--depth == 0)
                return s + 1;
        } else if (*s == p[0]) {
            depth++;
        }
    }
    return NULL;
}

static const char *match(mstate_t *m, const char *s, const char *p)
{
    if (m->depth-- == 0)
        luaL_error(m->L, "pattern too complex");
    while (p < m->pe) {
        step(m, 1);
        if (*p == '(') {
            s = p + 1 < m->pe && p[1] == ')' ? open_capture(m, s, p + 2, CAP_POS) : open_capture(m, s, p + 1, CAP_OPEN);
            goto out;
        }
        if (*p == ')') {
            s = close_capture(m, s, p + 1);
            goto out;
        }
        if (*p == '$' && p + 1 == m->pe) {
            s = s == m->se ? s : NULL;
            goto out;
        }
        if (*p == '%' && p + 1 < m->pe) {
            char e = p[1];
            if (e == 'b') {
                s = balance(m, s, p + 2);
                if (!s)
                    goto out;
                p += 4;
                continue;
            }
            if (e == 'f') {
                p += 2;
                if (p >= m->pe || *p != '[')
                    luaL_error(m->L, "missing '[' after '%%f' in pattern");
                const char *ep = item_end(m, p);
                int before = s == m->s0 ? 0 : (unsigned char)s[-1];
                int here = s < m->se ? (unsigned char)*s : 0;
                if (set_has(before, p, ep - 1) || !set_has(here, p, ep - 1)) {
                    s = NULL;
                    goto out;
                }
                p = ep;
                continue;
            }
            if (e >= '0' && e <= '9') {
                s = back_ref(m, s, (unsigned char)e);
                if (!s)
                    goto out;
                p += 2;
                continue;
            }
        }
        const char *ep = item_end(m, p);
        char q = ep < m->pe ? *ep : 0; // a quantifier after the item, if any
        if (!one_match(m, s, p, ep)) {
            if (q == '*' || q == '?' || q == '-') { // they accept no character
                p = ep + 1;
                continue;
            }
            s = NULL;
            goto out;
        }
        switch (q) {
        case '?': {
            const char *r = match(m, s + 1, ep + 1);
            if (r) {
                s = r;
                goto out;
            }
            p = ep + 1;
            continue;
        }
        case '+': s = greedy(m, s + 1, p, ep); goto out;
        case '*': s = greedy(m, s, p, ep); goto out;
        case '-': s = lazy(m, s, p, ep); goto out;
        default: s++; p = ep; continue;
        }
    }
out:
    m->depth++;
    return s;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Captures to Lua values

// Capture i of the match s..e (i = 0 with no captures: the whole match).
static void push_capture(mstate_t *m, int i, const char *s, const char *e)
{
    if (i >= m->level) {
        if (i != 0)
            luaL_error(m->L, "invalid capture index %%%d", i + 1);
        lua_pushlstring(m->L, s, (size_t)(e - s));
        return;
    }
    ptrdiff_t len = m->cap[i].len;
    if (len == CAP_OPEN)
        luaL_error(m->L, "unfinished capture");
    if (len == CAP_POS)
        lua_pushinteger(m->L, (lua_Integer)(m->cap[i].at - m->s0) + 1);
    else
        lua_pushlstring(m->L, m->cap[i].at, (size_t)len);
}

// Pushes every capture (or the whole match when there are none and s is given).
static int push_captures(mstate_t *m, const char *s, const char *e)
{
    int n = m->level == 0 && s ? 1 : m->level;
    luaL_checkstack(m->L, n, "too many captures");
    for (int i = 0; i < n; i++)
        push_capture(m, i, s, e);
    return n;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// string.find, string.match

// A start position as the manual defines init: negative counts from the end, 0 is 1.
static size_t start_pos(lua_Integer pos, size_t len)
{
    if (pos > 0)
        return (size_t)pos;
    if (pos == 0 || pos < -(lua_Integer)len)
        return 1;
    return (size_t)((lua_Integer)len + pos + 1);
}

static bool has_specials(const char *p, size_t n)
{
    static const char specials[] = "^$*+?.([%-";
    for (size_t i = 0; i < n; i++)
        if (memchr(specials, p[i], sizeof specials - 1))
            return true;
    return false;
}

static int find_aux(lua_State *L, bool find)
{
    size_t ls, lp;
    const char *s = luaL_checklstring(L, 1, &ls);
    const char *p = luaL_checklstring(L, 2, &lp);
    size_t init = start_pos(luaL_optinteger(L, 3, 1), ls) - 1;
    if (init > ls) {
        luaL_pushfail(L);
        return 1;
    }
    mstate_t m;
    init_state(&m, L, s, ls, p, lp);
    if (find && (lua_toboolean(L, 4) || !has_specials(p, lp))) { // a plain search
        if (lp == 0) {
            lua_pushinteger(L, (lua_Integer)init + 1);
            lua_pushinteger(L, (lua_Integer)init);
            return 2;
        }
        for (const char *at = s + init; lp <= (size_t)(m.se - at);) {
            const char *hit = memchr(at, p[0], (size_t)(m.se - at) - lp + 1);
            if (!hit)
                break;
            step(&m, (unsigned)((size_t)(hit - at) / 64 + lp / 16 + 1));
            if (!memcmp(hit, p, lp)) {
                flush(&m);
                lua_pushinteger(L, (lua_Integer)(hit - s) + 1);
                lua_pushinteger(L, (lua_Integer)(hit - s) + (lua_Integer)lp);
                return 2;
            }
            at = hit + 1;
        }
        flush(&m);
        luaL_pushfail(L);
        return 1;
    }
    bool anchor = lp > 0 && p[0] == '^';
    if (anchor)
        m.p0 = ++p;
    const char *at = s + init;
    do {
        restart(&m);
        const char *e = match(&m, at, p);
        if (e) {
            flush(&m);
            if (!find)
                return push_captures(&m, at, e);
            lua_pushinteger(L, (lua_Integer)(at - s) + 1);
            lua_pushinteger(L, (lua_Integer)(e - s));
            return push_captures(&m, NULL, NULL) + 2;
        }
    } while (at++ < m.se && !anchor);
    flush(&m);
    luaL_pushfail(L);
    return 1;
}

static int l_find(lua_State *L) { return find_aux(L, true); }
static int l_match(lua_State *L) { return find_aux(L, false); }

///////////////////////////////////////////////////////////////////////////////////////////////
// string.gmatch(s, p [, init]): an iterator; upvalues s, p and its state (a userdata)

typedef struct gm_state {
    const char *at;   // where the next search starts
    const char *last; // end of the last match (an empty match there is skipped)
    mstate_t m;
} gm_state_t;

static int gmatch_next(lua_State *L)
{
    gm_state_t *g = lua_touserdata(L, lua_upvalueindex(3));
    g->m.L = L; // the iterator may run on another coroutine than the one that made it
    for (const char *at = g->at; at <= g->m.se; at++) {
        restart(&g->m);
        const char *e = match(&g->m, at, g->m.p0);
        if (e && e != g->last) {
            flush(&g->m);
            g->at = g->last = e;
            return push_captures(&g->m, at, e);
        }
    }
    flush(&g->m);
    g->at = g->m.se + 1;
    return 0;
}

static int l_gmatch(lua_State *L)
{
    size_t ls, lp;
    const char *s = luaL_checklstring(L, 1, &ls);
    const char *p = luaL_checklstring(L, 2, &lp);
    size_t init = start_pos(luaL_optinteger(L, 3, 1), ls) - 1;
    lua_settop(L, 2);
    gm_state_t *g = lua_newuserdatauv(L, sizeof *g, 0);
    if (init > ls)
        init = ls + 1; // nothing to find
    init_state(&g->m, L, s, ls, p, lp);
    g->at = s + init;
    g->last = NULL;
    lua_pushcclosure(L, gmatch_next, 3);
    return 1;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// string.gsub(s, p, repl [, n])

static void add_template(mstate_t *m, luaL_Buffer *b, const char *s, const char *e)
{
    lua_State *L = m->L;
    size_t len;
    const char *r = lua_tolstring(L, 3, &len);
    const char *end = r + len;
    step(m, (unsigned)(len / 16));
    while (r < end) {
        const char *pct = memchr(r, '%', (size_t)(end - r));
        if (!pct) {
            luaL_addlstring(b, r, (size_t)(end - r));
            return;
        }
        luaL_addlstring(b, r, (size_t)(pct - r));
        r = pct + 1;
        if (r < end && *r == '%') {
            luaL_addchar(b, '%');
        } else if (r < end && *r >= '0' && *r <= '9') {
            if (*r == '0')
                luaL_addlstring(b, s, (size_t)(e - s));
            else {
                push_capture(m, *r - '1', s, e);
                luaL_tolstring(L, -1, NULL);
                lua_remove(L, -2);
                luaL_addvalue(b);
            }
        } else {
            luaL_error(L, "invalid use of '%%' in replacement string");
        }
        r++;
    }
}

static void add_replacement(mstate_t *m, luaL_Buffer *b, const char *s, const char *e, int type)
{
    lua_State *L = m->L;
    if (type == LUA_TFUNCTION) {
        lua_pushvalue(L, 3);
        int n = push_captures(m, s, e);
        lua_call(L, n, 1);
    } else if (type == LUA_TTABLE) {
        push_capture(m, 0, s, e);
        lua_gettable(L, 3);
    } else {
        add_template(m, b, s, e);
        return;
    }
    if (!lua_toboolean(L, -1)) { // nil or false: the match stays as it was
        lua_pop(L, 1);
        luaL_addlstring(b, s, (size_t)(e - s));
    } else if (!lua_isstring(L, -1)) {
        luaL_error(L, "invalid replacement value (a %s)", luaL_typename(L, -1));
    } else {
        luaL_addvalue(b);
    }
}

static int l_gsub(lua_State *L)
{
    size_t ls, lp;
    const char *s = luaL_checklstring(L, 1, &ls);
    const char *p = luaL_checklstring(L, 2, &lp);
    int type = lua_type(L, 3);
    lua_Integer max = luaL_optinteger(L, 4, (lua_Integer)ls + 1);
    luaL_argexpected(L, type == LUA_TNUMBER || type == LUA_TSTRING || type == LUA_TFUNCTION || type == LUA_TTABLE,
                     3, "string/function/table");
    mstate_t m;
    bool anchor = lp > 0 && p[0] == '^';
    if (anchor) {
        p++;
        lp--;
    }
    init_state(&m, L, s, ls, p, lp);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    const char *at = s, *last = NULL;
    lua_Integer n = 0;
    while (n < max) {
        restart(&m);
        const char *e = match(&m, at, p);
        if (e && e != last) {
            n++;
            add_replacement(&m, &b, at, e, type);
            at = last = e;
        } else if (at < m.se) {
            luaL_addchar(&b, *at++);
        } else {
            break;
        }
        if (anchor)
            break;
    }
    flush(&m);
    if (n == 0) {
        lua_pushvalue(L, 1);
    } else {
        luaL_addlstring(&b, at, (size_t)(m.se - at));
        luaL_pushresult(&b);
    }
    lua_pushinteger(L, n);
    return 2;
}

void sw__lua_open_match(lua_State *L, int strlib)
{
    static const luaL_Reg fns[] = {
        {"find", l_find}, {"match", l_match}, {"gmatch", l_gmatch}, {"gsub", l_gsub}, {NULL, NULL},
    };
    strlib = lua_absindex(L, strlib);
    for (const luaL_Reg *f = fns; f->name; f++) {
        lua_pushcfunction(L, f->func);
        lua_setfield(L, strlib, f->name);
    }
}

#endif // SW_WITH_LUA
