// Lua's loader of precompiled (binary) chunks, left out of the firmware: the node loads text
// only (mode "t" in lua_vm.c, lua_api.c and the sandboxed load()), so Lua refuses a binary
// chunk before it would get here and lundump.c (1.7 KB of flash) is never used. Built in place
// of lundump.c (src/port/mps2/CMakeLists.txt); a binary chunk that ever reached it fails as a
// syntax error.
#include "ldo.h"
#include "lobject.h"
#include "lundump.h"

LClosure *luaU_undump(lua_State *L, ZIO *Z, const char *name)
{
    (void)Z;
    luaO_pushfstring(L, "%s: binary chunks are not loaded on this board", name);
    luaD_throw(L, LUA_ERRSYNTAX);
}
