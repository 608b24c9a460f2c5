// Lua values ↔ MsgPack items, and the short printable form sys.eval returns.
//
// Lua → MsgPack: nil, booleans, integers, floats (float64), strings (str if valid UTF-8, else
// bin), tables (a sequence 1..n → array, anything else → map; {} → empty map). What cannot be
// data becomes a proxy (ext 4, "p_N"): functions, userdata, threads, and a table met again on
// its own path (a cycle) or nested deeper than SW_LUA_CONV_DEPTH. swarm.NONE → Proxy("-");
// swarm.END → nil; proxy placeholders → their ext 4 again; other ext placeholders round-trip.
// Only raw accesses are used: converting never runs app code.
//
// MsgPack → Lua: maps and arrays → tables, str and bin → strings, integers beyond int64 → float,
// ext 4 → the proxied value if this node knows it, else a placeholder table; Proxy("-") →
// swarm.NONE. Map entries whose key would be nil (or NaN) are dropped.
#include "profile.h"
#if SW_WITH_LUA
#include <stdio.h> // snprintf only
#include <string.h>

#include "lua_int.h"

///////////////////////////////////////////////////////////////////////////////////////////////
// UTF-8

bool sw__utf8_valid(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        uint32_t cp, min;
        if ((c & 0xE0) == 0xC0) {
            len = 2, cp = c & 0x1F, min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            len = 3, cp = c & 0x0F, min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            len = 4, cp = c & 0x07, min = 0x10000;
        } else {
            return false;
        }
        if (n - i < len)
            return false;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += len;
    }
    return true;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// MsgPack → Lua

static void push_placeholder(lua_State *L, const void *key, const char *field, const uint8_t *p, size_t n)
{
    lua_createtable(L, 0, 2);
    lua_pushlstring(L, (const char *)p, n);
    lua_setfield(L, -2, field);
    lua_rawgetp(L, LUA_REGISTRYINDEX, key);
    lua_setmetatable(L, -2);
}

void sw__lua_push_mp(lua_State *L, sw_mpr_t *r)
{
    luaL_checkstack(L, 4, "MsgPack nesting");
    sw_mp_obj_t o;
    int err = sw_mpr_next(r, &o);
    if (err)
        luaL_error(L, "malformed MsgPack (%s)", sw_strerror(err));
    switch (o.type) {
    case SW_MP_NIL:
        lua_pushnil(L);
        break;
    case SW_MP_BOOL:
        lua_pushboolean(L, o.v.b);
        break;
    case SW_MP_UINT:
        if (o.v.u <= (uint64_t)LUA_MAXINTEGER)
            lua_pushinteger(L, (lua_Integer)o.v.u);
        else
            lua_pushnumber(L, (lua_Number)o.v.u);
        break;
    case SW_MP_INT: // < 0; a Lua built with LUA_32BITS has 32-bit integers: wider become floats
        if (o.v.i >= LUA_MININTEGER)
            lua_pushinteger(L, (lua_Integer)o.v.i);
        else
            lua_pushnumber(L, (lua_Number)o.v.i);
        break;
    case SW_MP_FLOAT:
        lua_pushnumber(L, (lua_Number)o.v.f);
        break;
    case SW_MP_STR:
    case SW_MP_BIN:
        lua_pushlstring(L, (const char *)o.v.p, o.len);
        break;
    case SW_MP_ARRAY:
        lua_createtable(L, (int)(o.len < 4096 ? o.len : 4096), 0);
        for (uint32_t i = 0; i < o.len; i++) {
            sw__lua_push_mp(L, r);
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        break;
    case SW_MP_MAP:
        lua_createtable(L, 0, (int)(o.len < 4096 ? o.len : 4096));
        for (uint32_t i = 0; i < o.len; i++) {
            sw__lua_push_mp(L, r);
            sw__lua_push_mp(L, r);
            bool bad_key = lua_isnil(L, -2) || (lua_type(L, -2) == LUA_TNUMBER && !lua_isinteger(L, -2) &&
                                               lua_tonumber(L, -2) != lua_tonumber(L, -2));
            if (bad_key)
                lua_pop(L, 2);
            else
                lua_rawset(L, -3);
        }
        break;
    case SW_MP_EXT:
        if (o.ext == SW_PROXY_EXT) {
            if (o.len == 1 && o.v.p[0] == '-')
                lua_rawgetp(L, LUA_REGISTRYINDEX, &sw__lua_key_none);
            else if (!sw__proxy_push(L, (const char *)o.v.p, o.len))
                push_placeholder(L, &sw__lua_key_proxy_mt, "name", o.v.p, o.len);
        } else {
            push_placeholder(L, &sw__lua_key_ext_mt, "data", o.v.p, o.len);
            lua_pushinteger(L, o.ext);
            lua_setfield(L, -2, "type");
        }
        break;
    default:
        luaL_error(L, "malformed MsgPack");
    }
}

void sw__lua_push_span(lua_State *L, sw_span_t s)
{
    if (s.n == 0) {
        lua_newtable(L);
        return;
    }
    sw_mpr_t r;
    sw_mpr_init(&r, s.p, s.n);
    sw__lua_push_mp(L, &r);
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Lua → MsgPack

typedef struct enc {
    lua_State *L;
    sw_mpw_t *w;
    int depth;
    const void *path[SW_LUA_CONV_DEPTH];
} enc_t;

static void write_value(enc_t *e, int idx);

static void write_proxy(enc_t *e, int idx)
{
    char name[24];
    sw__proxy_name(e->L, idx, name, sizeof name);
    sw_mpw_ext(e->w, SW_PROXY_EXT, name, strlen(name));
}

// True if the value at idx is the registry value stored under key.
static bool is_reg(lua_State *L, const void *key, int idx)
{
    lua_rawgetp(L, LUA_REGISTRYINDEX, key);
    bool eq = lua_rawequal(L, -1, idx);
    lua_pop(L, 1);
    return eq;
}

// True if the table at idx has the registry metatable stored under key.
static bool has_mt(lua_State *L, const void *key, int idx)
{
    if (!lua_getmetatable(L, idx))
        return false;
    bool eq = is_reg(L, key, lua_gettop(L));
    lua_pop(L, 1);
    return eq;
}

// Raw field of the table at idx (no __index: the table may carry an app's metatable).
static int rawfield(lua_State *L, int idx, const char *k)
{
    lua_pushstring(L, k);
    return lua_rawget(L, idx);
}

// A placeholder (proxy or ext) or a sentinel: written as such; returns true if handled.
static bool write_special(enc_t *e, int idx)
{
    lua_State *L = e->L;
    size_t n;
    const char *s;
    if (is_reg(L, &sw__lua_key_none, idx)) {
        sw_mpw_ext(e->w, SW_PROXY_EXT, SW_PROXY_NODATA, 1);
        return true;
    }
    if (is_reg(L, &sw__lua_key_end, idx)) {
        sw_mpw_nil(e->w);
        return true;
    }
    bool done = false;
    if (has_mt(L, &sw__lua_key_proxy_mt, idx)) {
        if (rawfield(L, idx, "name") == LUA_TSTRING) {
            s = lua_tolstring(L, -1, &n);
            sw_mpw_ext(e->w, SW_PROXY_EXT, s, n);
            done = true;
        }
        lua_pop(L, 1);
    } else if (has_mt(L, &sw__lua_key_ext_mt, idx)) {
        int tt = rawfield(L, idx, "type");
        if (rawfield(L, idx, "data") == LUA_TSTRING && tt == LUA_TNUMBER && lua_isinteger(L, -2) &&
            lua_tointeger(L, -2) >= -128 && lua_tointeger(L, -2) <= 127) {
            s = lua_tolstring(L, -1, &n);
            sw_mpw_ext(e->w, (int8_t)lua_tointeger(L, -2), s, n);
            done = true;
        }
        lua_pop(L, 2);
    }
    return done;
}

static void write_table(enc_t *e, int idx)
{
    lua_State *L = e->L;
    if (write_special(e, idx))
        return;
    const void *p = lua_topointer(L, idx);
    for (int i = 0; i < e->depth; i++)
        if (e->path[i] == p) {
            write_proxy(e, idx); // a cycle: the table is one of its own ancestors
            return;
        }
    if (e->depth >= SW_LUA_CONV_DEPTH) {
        write_proxy(e, idx);
        return;
    }
    luaL_checkstack(L, 4, "converting a table");
    e->path[e->depth++] = p;
    lua_Unsigned len = lua_rawlen(L, idx);
    uint64_t count = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        count++;
        lua_pop(L, 1);
    }
    bool seq = len > 0 && count == len && len <= UINT32_MAX;
    for (lua_Unsigned i = 1; seq && i <= len; i++) {
        seq = lua_rawgeti(L, idx, (lua_Integer)i) != LUA_TNIL;
        lua_pop(L, 1);
    }
    if (seq) {
        sw_mpw_array(e->w, (uint32_t)len);
        for (lua_Unsigned i = 1; i <= len && !e->w->err; i++) {
            lua_rawgeti(L, idx, (lua_Integer)i);
            write_value(e, -1);
            lua_pop(L, 1);
        }
    } else {
        if (count > UINT32_MAX)
            luaL_error(L, "table too large");
        sw_mpw_map(e->w, (uint32_t)count);
        lua_pushnil(L);
        while (lua_next(L, idx)) {
            if (e->w->err) {
                lua_pop(L, 2);
                break;
            }
            write_value(e, -2);
            write_value(e, -1);
            lua_pop(L, 1);
        }
    }
    e->depth--;
}

static void write_value(enc_t *e, int idx)
{
    lua_State *L = e->L;
    idx = lua_absindex(L, idx);
    size_t n;
    const char *s;
    switch (lua_type(L, idx)) {
    case LUA_TNIL:
        sw_mpw_nil(e->w);
        break;
    case LUA_TBOOLEAN:
        sw_mpw_bool(e->w, lua_toboolean(L, idx));
        break;
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx))
            sw_mpw_int(e->w, (int64_t)lua_tointeger(L, idx));
        else
            sw_mpw_f64(e->w, (double)lua_tonumber(L, idx));
        break;
    case LUA_TSTRING:
        s = lua_tolstring(L, idx, &n);
        if (sw__utf8_valid((const uint8_t *)s, n))
            sw_mpw_str(e->w, s, n);
        else
            sw_mpw_bin(e->w, s, n);
        break;
    case LUA_TTABLE:
        write_table(e, idx);
        break;
    default:
        write_proxy(e, idx);
        break;
    }
}

void sw__lua_write_mp(lua_State *L, int idx, sw_mpw_t *w)
{
    enc_t e;
    e.L = L;
    e.w = w;
    e.depth = 0;
    write_value(&e, idx);
}

///////////////////////////////////////////////////////////////////////////////////////////////
// repr: a bounded, metamethod-free printable form for sys.eval's second element.

#define REPR_MAX SW_LUA_REPR_MAX // profile.h

typedef struct repr {
    char buf[REPR_MAX + 8];
    size_t len;
    bool full;
} repr_t;

static void radd(repr_t *r, const char *s, size_t n)
{
    if (r->full)
        return;
    // n > room rather than len + n > REPR_MAX: the cut n is then visibly below the old one, so
    // s[n] stays inside s (gcc -O3 warned that it might read past the 1-byte s of repr_string)
    if (n > REPR_MAX - r->len) {
        n = REPR_MAX - r->len;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--; // never cut a UTF-8 sequence
        r->full = true;
    }
    memcpy(r->buf + r->len, s, n);
    r->len += n;
    if (r->full) {
        memcpy(r->buf + r->len, "...", 3);
        r->len += 3;
    }
}

static void rstr(repr_t *r, const char *s) { radd(r, s, strlen(s)); }

static void repr_string(repr_t *r, const char *s, size_t n)
{
    // bytes of a string that is not UTF-8 are escaped, so the repr itself is always text
    bool utf8 = sw__utf8_valid((const uint8_t *)s, n);
    radd(r, "\"", 1);
    for (size_t i = 0; i < n && !r->full; i++) {
        unsigned char c = (unsigned char)s[i];
        char tmp[8];
        if (c == '"' || c == '\\') {
            tmp[0] = '\\', tmp[1] = (char)c;
            radd(r, tmp, 2);
        } else if (c == '\n') {
            radd(r, "\\n", 2);
        } else if (c < 0x20 || c == 0x7F || (c >= 0x80 && !utf8)) {
            int k = snprintf(tmp, sizeof tmp, "\\%u", c);
            radd(r, tmp, (size_t)k);
        } else {
            radd(r, (const char *)&c, 1);
        }
    }
    radd(r, "\"", 1);
}

static bool is_ident(const char *s, size_t n)
{
    if (n == 0 || (s[0] >= '0' && s[0] <= '9'))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
              s[i] == '_'))
            return false;
    return true;
}

static void repr_value(lua_State *L, repr_t *r, int idx, int depth);

static void repr_table(lua_State *L, repr_t *r, int idx, int depth)
{
    if (is_reg(L, &sw__lua_key_none, idx)) {
        rstr(r, "swarm.NONE");
        return;
    }
    if (is_reg(L, &sw__lua_key_end, idx)) {
        rstr(r, "swarm.END");
        return;
    }
    if (has_mt(L, &sw__lua_key_proxy_mt, idx)) {
        size_t n;
        rstr(r, "Proxy(");
        if (rawfield(L, idx, "name") == LUA_TSTRING) {
            const char *s = lua_tolstring(L, -1, &n);
            repr_string(r, s, n);
        }
        lua_pop(L, 1);
        rstr(r, ")");
        return;
    }
    if (depth >= 3) {
        rstr(r, "{...}");
        return;
    }
    luaL_checkstack(L, 4, "repr");
    rstr(r, "{");
    lua_Integer len = (lua_Integer)lua_rawlen(L, idx);
    int items = 0;
    for (lua_Integer i = 1; i <= len && !r->full; i++, items++) {
        if (items)
            rstr(r, ", ");
        lua_rawgeti(L, idx, i);
        repr_value(L, r, lua_gettop(L), depth + 1);
        lua_pop(L, 1);
    }
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        if (r->full) {
            lua_pop(L, 2);
            break;
        }
        if (lua_isinteger(L, -2) && lua_tointeger(L, -2) >= 1 && lua_tointeger(L, -2) <= len) {
            lua_pop(L, 1);
            continue;
        }
        if (items++)
            rstr(r, ", ");
        size_t kn;
        if (lua_type(L, -2) == LUA_TSTRING && is_ident(lua_tolstring(L, -2, &kn), kn)) {
            radd(r, lua_tostring(L, -2), kn);
        } else {
            rstr(r, "[");
            repr_value(L, r, lua_gettop(L) - 1, depth + 1);
            rstr(r, "]");
        }
        rstr(r, "=");
        repr_value(L, r, lua_gettop(L), depth + 1);
        lua_pop(L, 1);
    }
    rstr(r, "}");
}

static void repr_value(lua_State *L, repr_t *r, int idx, int depth)
{
    char tmp[64];
    size_t n;
    const char *s;
    int type = lua_type(L, idx);
    switch (type) {
    case LUA_TNIL:
        rstr(r, "nil");
        break;
    case LUA_TBOOLEAN:
        rstr(r, lua_toboolean(L, idx) ? "true" : "false");
        break;
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx)) {
            snprintf(tmp, sizeof tmp, LUA_INTEGER_FMT, (LUAI_UACINT)lua_tointeger(L, idx));
        } else {
            snprintf(tmp, sizeof tmp, LUA_NUMBER_FMT, (LUAI_UACNUMBER)lua_tonumber(L, idx));
            if (tmp[strspn(tmp, "-0123456789")] == 0)
                strcat(tmp, ".0"); // looks like an int: mark it as a float, as Lua does
        }
        rstr(r, tmp);
        break;
    case LUA_TSTRING:
        s = lua_tolstring(L, idx, &n);
        repr_string(r, s, n);
        break;
    case LUA_TTABLE:
        repr_table(L, r, idx, depth);
        break;
    default:
        snprintf(tmp, sizeof tmp, "%s: %p", lua_typename(L, type), lua_topointer(L, idx));
        rstr(r, tmp);
        break;
    }
}

void sw__lua_push_repr(lua_State *L, int idx)
{
    repr_t r;
    r.len = 0;
    r.full = false;
    repr_value(L, &r, lua_absindex(L, idx), 0);
    lua_pushlstring(L, r.buf, r.len);
}

#endif // SW_WITH_LUA
