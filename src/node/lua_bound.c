// Bounds on the C side of the Lua library. The count hook only sees VM instructions; a C
// function runs to its end unseen. So every library function whose work a script controls
// without paying for it in instructions or memory is charged here against the same budget
// (limits.lua_instr), one "instruction" per step: the pattern functions (lua_match.c), table
// functions that loop over a range or a length the script chooses (a __len can claim 2^53),
// a full garbage collection, scans of long strings. Allocation is charged in the allocator
// (lua_vm.c), which covers string.rep, .., string.format, table growth and the parser. pcall and
// xpcall cannot swallow the budget's error: once a task is over its budget they re-raise it.
// Each rule is listed in docs/DESIGN.md ("Hostile clients").
#include "profile.h"
#if SW_WITH_LUA
#include <string.h>

#include <lualib.h>

#include "lua_int.h"

static uint64_t *budget_counter(sw_lua_t *lua)
{
    return lua->cur ? &lua->cur->instr : &lua->loose_instr;
}

bool sw__lua_late(sw_lua_t *lua)
{
    if (!lua->time_limit)
        return false;
    uint32_t start = lua->cur ? lua->cur->run_start : lua->loose_start;
    bool late = sw_node_now(lua->n) - start > lua->time_limit;
    if (late && lua->cur)
        lua->cur->late = true;
    return late;
}

bool sw__lua_over_budget(sw_lua_t *lua)
{
    return lua->cur ? lua->cur->overrun : lua->loose_instr > lua->instr_limit || sw__lua_late(lua);
}

void sw__lua_charge(lua_State *L, uint64_t steps)
{
    sw_lua_t *lua = sw__lua_of(L);
    uint64_t *c = budget_counter(lua);
    *c = *c + steps < *c ? UINT64_MAX : *c + steps;
    if (*c <= lua->instr_limit && !sw__lua_late(lua))
        return;
    if (lua->cur && !lua->cur->dead)
        lua->cur->overrun = true;
    luaL_error(L, "instruction limit exceeded (%I instructions without yielding)", (lua_Integer)lua->instr_limit);
}

void sw__lua_charge_alloc(sw_lua_t *lua, size_t bytes)
{
    uint64_t *c = budget_counter(lua);
    *c += bytes / SW_LUA_BYTES_PER_STEP; // checked by the next hook (an allocator cannot raise)
}

// Steps for a range i..j of a table (0 if empty), saturating.
static uint64_t range_steps(lua_Integer i, lua_Integer j)
{
    if (j < i)
        return 0;
    return (uint64_t)j - (uint64_t)i + 1;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// pcall / xpcall: the budget's error passes through

static int pcall_k(lua_State *L, int status, lua_KContext ctx)
{
    (void)status;
    (void)ctx;
    sw_lua_t *lua = sw__lua_of(L);
    if (sw__lua_over_budget(lua) && lua_gettop(L) >= 1 && !lua_toboolean(L, 1)) {
        lua_settop(L, 2);
        return lua_error(L); // the error object pcall caught
    }
    return lua_gettop(L);
}

static int l_pcall(lua_State *L)
{
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_callk(L, lua_gettop(L) - 1, LUA_MULTRET, 0, pcall_k);
    return pcall_k(L, LUA_OK, 0);
}

///////////////////////////////////////////////////////////////////////////////////////////////
// table.*

// table.insert(t, [pos,] v)
static int l_insert(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_Integer e = luaL_len(L, 1);
    if (e == LUA_MAXINTEGER)
        return luaL_error(L, "table.insert: table too long");
    e++; // the first free index
    lua_Integer pos;
    switch (lua_gettop(L)) {
    case 2:
        pos = e;
        break;
    case 3:
        pos = luaL_checkinteger(L, 2);
        luaL_argcheck(L, pos >= 1 && pos <= e, 2, "position out of bounds");
        sw__lua_charge(L, range_steps(pos, e - 1));
        for (lua_Integer i = e; i > pos; i--) { // shift up
            lua_geti(L, 1, i - 1);
            lua_seti(L, 1, i);
        }
        break;
    default:
        return luaL_error(L, "wrong number of arguments to 'insert'");
    }
    lua_seti(L, 1, pos);
    return 0;
}

// table.remove(t [, pos])
static int l_remove(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_Integer size = luaL_len(L, 1);
    lua_Integer pos = luaL_optinteger(L, 2, size);
    if (pos != size)
        luaL_argcheck(L, size < LUA_MAXINTEGER && pos >= 1 && pos <= size + 1, 2, "position out of bounds");
    sw__lua_charge(L, range_steps(pos, size - 1));
    lua_geti(L, 1, pos);
    for (; pos < size; pos++) { // shift down
        lua_geti(L, 1, pos + 1);
        lua_seti(L, 1, pos);
    }
    lua_pushnil(L);
    lua_seti(L, 1, pos);
    return 1;
}

// table.sort(t [, comp]): a heap sort, O(n log n) comparisons whatever the comparator answers
// (the library's quicksort can scan a whole range per step for a comparator that lies).
static bool sort_less(lua_State *L, lua_Integer a, lua_Integer b)
{
    sw__lua_charge(L, 1);
    lua_geti(L, 1, a);
    lua_geti(L, 1, b);
    bool r;
    if (lua_isnil(L, 2)) {
        r = lua_compare(L, -2, -1, LUA_OPLT);
        lua_pop(L, 2);
    } else {
        lua_pushvalue(L, 2);
        lua_insert(L, -3);
        lua_call(L, 2, 1);
        r = lua_toboolean(L, -1);
        lua_pop(L, 1);
    }
    return r;
}

static void sort_swap(lua_State *L, lua_Integer a, lua_Integer b)
{
    lua_geti(L, 1, a);
    lua_geti(L, 1, b);
    lua_seti(L, 1, a);
    lua_seti(L, 1, b);
}

// Restores the heap below root in t[1..n].
static void sift_down(lua_State *L, lua_Integer root, lua_Integer n)
{
    for (;;) {
        lua_Integer child = 2 * root;
        if (child > n)
            return;
        if (child < n && sort_less(L, child, child + 1))
            child++;
        if (!sort_less(L, root, child))
            return;
        sort_swap(L, root, child);
        root = child;
    }
}

static int l_sort(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_Integer n = luaL_len(L, 1);
    if (n > 1) {
        luaL_argcheck(L, n < INT32_MAX, 1, "array too big");
        if (!lua_isnoneornil(L, 2))
            luaL_checktype(L, 2, LUA_TFUNCTION);
        lua_settop(L, 2);
        for (lua_Integer i = n / 2; i >= 1; i--)
            sift_down(L, i, n);
        for (lua_Integer end = n; end > 1; end--) {
            sort_swap(L, 1, end);
            sift_down(L, 1, end - 1);
        }
    }
    return 0;
}

// table.concat / table.unpack (list, a, i, j): the range is charged, then the library's
// function runs on exactly that range (j given, so a __len is not asked twice).
static int range_call(lua_State *L, int ai, int aj)
{
    lua_Integer i = luaL_optinteger(L, ai, 1);
    lua_Integer j = lua_isnoneornil(L, aj) ? luaL_len(L, 1) : luaL_checkinteger(L, aj);
    sw__lua_charge(L, range_steps(i, j));
    lua_settop(L, aj);
    lua_pushinteger(L, i);
    lua_replace(L, ai);
    lua_pushinteger(L, j);
    lua_replace(L, aj);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, aj, LUA_MULTRET);
    return lua_gettop(L);
}

static int l_concat(lua_State *L)
{
    luaL_checkany(L, 1);
    return range_call(L, 3, 4);
}

static int l_unpack(lua_State *L)
{
    luaL_checkany(L, 1);
    if (lua_isnone(L, 2)) // unpack(t, nil, j) and unpack(t) both start at 1
        lua_pushnil(L);
    return range_call(L, 2, 3);
}

// table.move(a1, f, e, t [, a2])
static int l_move(lua_State *L)
{
    sw__lua_charge(L, range_steps(luaL_checkinteger(L, 2), luaL_checkinteger(L, 3)));
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    return 1;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Scans: a full collection costs the heap, utf8 functions and tonumber the string's length.

static int l_collectgarbage(lua_State *L)
{
    const char *opt = luaL_optstring(L, 1, "collect");
    if (!strcmp(opt, "collect") || !strcmp(opt, "step"))
        sw__lua_charge(L, sw__lua_of(L)->mem_used / SW_LUA_BYTES_PER_STEP);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    return lua_gettop(L);
}

static int l_scan_first(lua_State *L)
{
    size_t n = 0;
    if (lua_type(L, 1) == LUA_TSTRING)
        lua_tolstring(L, 1, &n);
    sw__lua_charge(L, n / SW_LUA_BYTES_PER_STEP);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    return lua_gettop(L);
}

///////////////////////////////////////////////////////////////////////////////////////////////

// Replaces lib.name (lib on top of the stack, or the globals if lib is NULL) with f, which
// gets the original as its upvalue (wrap) or not (replace).
static void patch(lua_State *L, const char *lib, const char *name, lua_CFunction f, bool wrap)
{
    if (lib)
        lua_getglobal(L, lib);
    else
        lua_pushglobaltable(L);
    if (wrap) {
        lua_getfield(L, -1, name);
        lua_pushcclosure(L, f, 1);
    } else {
        lua_pushcfunction(L, f);
    }
    lua_setfield(L, -2, name);
    lua_pop(L, 1);
}

void sw__lua_open_bounds(lua_State *L)
{
    patch(L, NULL, "pcall", l_pcall, true);
    patch(L, NULL, "xpcall", l_pcall, true);
    patch(L, NULL, "collectgarbage", l_collectgarbage, true);
    patch(L, NULL, "tonumber", l_scan_first, true);
    patch(L, LUA_TABLIBNAME, "insert", l_insert, false);
    patch(L, LUA_TABLIBNAME, "remove", l_remove, false);
    patch(L, LUA_TABLIBNAME, "sort", l_sort, false);
    patch(L, LUA_TABLIBNAME, "concat", l_concat, true);
    patch(L, LUA_TABLIBNAME, "unpack", l_unpack, true);
    patch(L, LUA_TABLIBNAME, "move", l_move, true);
    patch(L, LUA_UTF8LIBNAME, "len", l_scan_first, true);
    patch(L, LUA_UTF8LIBNAME, "offset", l_scan_first, true);
    patch(L, LUA_UTF8LIBNAME, "codepoint", l_scan_first, true);
    lua_getglobal(L, LUA_STRLIBNAME);
    sw__lua_open_match(L, -1);
    lua_pop(L, 1);
}

#endif // SW_WITH_LUA
