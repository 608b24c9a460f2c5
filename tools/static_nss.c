// For the static swarm-node only (SW_NODE_LINK=FULL): stands in for getpwuid_r(), which libuv
// references (uv_os_get_passwd) but the node never calls. A static glibc would otherwise pull
// in its NSS machinery and warn that it needs shared libraries at run time.
#define _POSIX_C_SOURCE 200809L // uid_t, struct passwd under -std=c11

#include <errno.h>
#include <pwd.h>
#include <stddef.h>

int __wrap_getpwuid_r(uid_t uid, struct passwd *pwd, char *buf, size_t buflen, struct passwd **result);

int __wrap_getpwuid_r(uid_t uid, struct passwd *pwd, char *buf, size_t buflen, struct passwd **result)
{
    (void)uid, (void)pwd, (void)buf, (void)buflen;
    *result = NULL;
    return ENOENT;
}
