// Proxies (MoaT ext 4): Lua values that cannot travel as data (functions, userdata, threads,
// cyclic or too deep tables) are sent as a name "p_N" and kept here, so a later message can
// hand the same name back and mean the same value. The table is bounded (limits.proxies); the
// receiver releases a name with sys.unproxy. Names starting with '_' and "-" are well-known
// (errors, "no data") and can never be dropped. A proxy belongs to the session (link) whose
// reply carried it: when that link closes, its proxies are released (the same value sent to
// two links gets a name for each). Proxies made for local calls belong to the node.
//
// The name → value side lives here (a registry reference per slot); value → name lives in a
// registry table so that sending the same value twice yields the same name.
#include "profile.h"
#if SW_WITH_LUA
#include <stdio.h> // snprintf only
#include <string.h>

#include "lua_int.h"

#define PROXY_NAME_MAX 16

typedef struct sw_proxy_ent {
    int ref; // registry reference of the value; 0 = free slot
    const void *owner; // the session (sw_rpc_t) it was sent to; NULL: the node's own
    char name[PROXY_NAME_MAX];
} sw_proxy_ent_t;

struct sw_proxies {
    uint16_t cap, count;
    uint32_t next; // counter for names (from 1, as the original)
    size_t size;   // of this allocation
    sw_proxy_ent_t ent[];
};

static const char key_rev = 0; // registry: value → name

int sw__proxy_init(sw_node_t *n)
{
    if (n->proxies)
        return 0;
    uint16_t cap = n->lim.max_proxies ? n->lim.max_proxies : 64;
    size_t size = sizeof(struct sw_proxies) + (size_t)cap * sizeof(sw_proxy_ent_t);
    struct sw_proxies *p = sw_node_alloc(n, size);
    if (!p)
        return SW_EFULL;
    p->cap = cap;
    p->next = 1;
    p->size = size;
    n->proxies = p;
    return 0;
}

void sw__proxy_close(sw_node_t *n)
{
    // the references die with the VM; only the table goes
    if (n->proxies)
        sw_node_release(n, n->proxies, n->proxies->size);
    n->proxies = NULL;
}

size_t sw__proxy_count(const sw_node_t *n) { return n->proxies ? n->proxies->count : 0; }

static sw_proxy_ent_t *find(struct sw_proxies *p, const char *name, size_t len)
{
    if (!p || len >= PROXY_NAME_MAX)
        return NULL;
    for (uint16_t i = 0; i < p->cap; i++)
        if (p->ent[i].ref && strlen(p->ent[i].name) == len && !memcmp(p->ent[i].name, name, len))
            return &p->ent[i];
    return NULL;
}

static void push_rev(lua_State *L)
{
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &key_rev) == LUA_TTABLE)
        return;
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &key_rev);
}

void sw__proxy_name(lua_State *L, int idx, char *out, size_t cap)
{
    sw_lua_t *lua = sw__lua_of(L);
    struct sw_proxies *p = lua->n->proxies;
    idx = lua_absindex(L, idx);
    if (!p)
        luaL_error(L, "proxies are not available");
    luaL_checkstack(L, 4, "proxy");
    push_rev(L);
    lua_pushvalue(L, idx);
    if (lua_rawget(L, -2) == LUA_TSTRING) {
        size_t len;
        const char *s = lua_tolstring(L, -1, &len);
        sw_proxy_ent_t *had = find(p, s, len);
        if (had && had->owner == lua->proxy_owner) {
            snprintf(out, cap, "%s", s);
            lua_pop(L, 2);
            return;
        }
    }
    lua_pop(L, 1);
    if (p->count >= p->cap)
        luaL_error(L, "too many proxies (limits.proxies = %d): release some with sys.unproxy", (int)p->cap);
    sw_proxy_ent_t *e = NULL;
    for (uint16_t i = 0; i < p->cap && !e; i++)
        if (!p->ent[i].ref)
            e = &p->ent[i];
    char name[PROXY_NAME_MAX];
    snprintf(name, sizeof name, "p_%lu", (unsigned long)p->next);
    // every step that can raise comes before the slot is taken
    lua_pushvalue(L, idx);
    lua_pushstring(L, name);
    lua_rawset(L, -3);
    lua_pushvalue(L, idx);
    int ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pop(L, 1);
    e->ref = ref;
    e->owner = lua->proxy_owner;
    memcpy(e->name, name, sizeof name);
    p->count++;
    p->next = p->next == UINT32_MAX ? 1 : p->next + 1;
    snprintf(out, cap, "%s", name);
}

bool sw__proxy_push(lua_State *L, const char *name, size_t len)
{
    sw_proxy_ent_t *e = find(sw__lua_of(L)->n->proxies, name, len);
    if (!e)
        return false;
    lua_rawgeti(L, LUA_REGISTRYINDEX, e->ref);
    return true;
}

static int drop_protected(lua_State *L)
{
    sw_proxy_ent_t *e = lua_touserdata(L, 1);
    push_rev(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, e->ref);
    lua_pushnil(L);
    lua_rawset(L, -3);
    luaL_unref(L, LUA_REGISTRYINDEX, e->ref);
    return 0;
}

static void drop(sw_node_t *n, sw_proxy_ent_t *e)
{
    // The slot is freed even if this fails: a stale reverse entry is ignored by
    // sw__proxy_name (it checks the name is still in the table, for the same owner).
    (void)sw__lua_protect(n->lua, drop_protected, e);
    e->ref = 0;
    e->owner = NULL;
    e->name[0] = 0;
    n->proxies->count--;
}

int sw_proxy_drop(sw_node_t *n, const char *name, size_t len)
{
    if (len == 0 || name[0] == '_' || (len == 1 && name[0] == '-'))
        return SW_EPERM;
    sw_proxy_ent_t *e = find(n->proxies, name, len);
    if (!e || !n->lua)
        return SW_ENOENT;
    drop(n, e);
    return 0;
}

void sw__proxy_owner_gone(sw_node_t *n, const void *owner)
{
    struct sw_proxies *p = n->proxies;
    if (!p || !n->lua || !owner)
        return;
    for (uint16_t i = 0; i < p->cap && p->count; i++)
        if (p->ent[i].ref && p->ent[i].owner == owner)
            drop(n, &p->ent[i]);
}

#endif // SW_WITH_LUA
