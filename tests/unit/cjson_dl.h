// cJSON for test programs that link only swarm_core (unit tests, fuzz targets): the cJSON
// functions src/host/mpjson.c and the tests use, defined as forwarders to libcjson.so.1 loaded
// with dlopen. Include once per program, after <cjson/cJSON.h> (e.g. after mpjson.c). If the
// test build ever links libcjson itself, drop this file.
#ifndef SW_CJSON_DL_H
#define SW_CJSON_DL_H

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

#include <cjson/cJSON.h>

static void *cjson_sym(const char *name)
{
    static void *lib;
    if (!lib && !(lib = dlopen("libcjson.so.1", RTLD_NOW | RTLD_LOCAL))) {
        fprintf(stderr, "dlopen libcjson.so.1: %s\n", dlerror());
        abort();
    }
    void *f = dlsym(lib, name);
    if (!f) {
        fprintf(stderr, "dlsym %s: %s\n", name, dlerror());
        abort();
    }
    return f;
}

#define FWD(ret, name, params, args)                                                         \
    ret name params                                                                          \
    {                                                                                        \
        static ret(*f) params;                                                               \
        if (!f)                                                                              \
            *(void **)&f = cjson_sym(#name);                                                 \
        return f args;                                                                       \
    }
FWD(cJSON *, cJSON_Parse, (const char *v), (v))
FWD(char *, cJSON_Print, (const cJSON *i), (i))
FWD(char *, cJSON_PrintUnformatted, (const cJSON *i), (i))
FWD(cJSON *, cJSON_GetObjectItemCaseSensitive, (const cJSON *const o, const char *const s), (o, s))
FWD(cJSON_bool, cJSON_IsNumber, (const cJSON *const i), (i))
FWD(cJSON_bool, cJSON_IsString, (const cJSON *const i), (i))
FWD(cJSON_bool, cJSON_IsArray, (const cJSON *const i), (i))
FWD(cJSON_bool, cJSON_IsObject, (const cJSON *const i), (i))
FWD(cJSON *, cJSON_CreateNull, (void), ())
FWD(cJSON *, cJSON_CreateBool, (cJSON_bool b), (b))
FWD(cJSON *, cJSON_CreateNumber, (double d), (d))
FWD(cJSON *, cJSON_CreateString, (const char *s), (s))
FWD(cJSON *, cJSON_CreateRaw, (const char *s), (s))
FWD(cJSON *, cJSON_CreateArray, (void), ())
FWD(cJSON *, cJSON_CreateObject, (void), ())
FWD(cJSON_bool, cJSON_AddItemToArray, (cJSON *a, cJSON *i), (a, i))
FWD(cJSON_bool, cJSON_AddItemToObject, (cJSON *o, const char *s, cJSON *i), (o, s, i))
static void (*delete_fn)(cJSON *);
void cJSON_Delete(cJSON *i)
{
    if (!delete_fn)
        *(void **)&delete_fn = cjson_sym("cJSON_Delete");
    delete_fn(i);
}
static void (*free_fn)(void *);
void cJSON_free(void *p)
{
    if (!free_fn)
        *(void **)&free_fn = cjson_sym("cJSON_free");
    free_fn(p);
}
FWD(cJSON *, cJSON_ParseWithLength, (const char *v, size_t n), (v, n))

#endif
