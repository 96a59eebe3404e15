/*
 * tspod.node: the few system calls the CLI makes on every container start and stop that Node has no
 * binding for. Without it each one is a fork+exec of mount(8)/umount(8) (3-5 ms each on these
 * machines); with it, one syscall. Loaded with process.dlopen by src/storage/native.ts, which falls
 * back to the external programs when the addon is missing or fails to load.
 *
 *   mount(source, target, fstype, flags, data)   source/fstype/data may be null; flags: MS_* bits
 *   umount(target, flags)                         flags: MNT_DETACH etc.
 *   isMountPoint(path)                            statx's STATX_ATTR_MOUNT_ROOT, no symlink followed:
 *                                                 true/false, or null when the kernel does not say
 *
 * Errors are thrown as Error objects whose `code` is the errno name (EBUSY...) and whose message
 * names the call and the target, like Node's own fs errors.
 */
#include <errno.h>
#include <node_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>

#define MAX_ARG 65536 /* mount data is at most a page; paths at most PATH_MAX */

static void throw_errno(napi_env env, const char *call, const char *target, int err) {
  char msg[4352];
  snprintf(msg, sizeof msg, "%s %s: %s", call, target ? target : "", strerror(err));
  const char *name = strerrorname_np(err);
  napi_throw_error(env, name ? name : "EUNKNOWN", msg);
}

/* A string argument (or NULL for null/undefined when optional); *out is malloc'd. */
static int get_string(napi_env env, napi_value v, int optional, char **out) {
  napi_valuetype t;
  *out = NULL;
  if (napi_typeof(env, v, &t) != napi_ok) return -1;
  if (optional && (t == napi_null || t == napi_undefined)) return 0;
  if (t != napi_string) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "expected a string");
    return -1;
  }
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) return -1;
  if (len >= MAX_ARG) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "string argument too long");
    return -1;
  }
  char *s = malloc(len + 1);
  if (!s) {
    napi_throw_error(env, "ENOMEM", "out of memory");
    return -1;
  }
  if (napi_get_value_string_utf8(env, v, s, len + 1, &len) != napi_ok) {
    free(s);
    return -1;
  }
  if (strlen(s) != len) { /* an embedded NUL would silently truncate the path */
    free(s);
    napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", "string argument contains a NUL byte");
    return -1;
  }
  *out = s;
  return 0;
}

static int get_flags(napi_env env, napi_value v, unsigned long *out) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok || d < 0 || d > 4294967295.0 || d != (double)(unsigned long)d) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "flags must be a non-negative integer");
    return -1;
  }
  *out = (unsigned long)d;
  return 0;
}

static napi_value js_mount(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc != 5) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", "mount(source, target, fstype, flags, data)");
    return NULL;
  }
  char *source = NULL, *target = NULL, *fstype = NULL, *data = NULL;
  unsigned long flags = 0;
  if (get_string(env, argv[0], 1, &source) == 0 && get_string(env, argv[1], 0, &target) == 0 &&
      get_string(env, argv[2], 1, &fstype) == 0 && get_flags(env, argv[3], &flags) == 0 &&
      get_string(env, argv[4], 1, &data) == 0) {
    if (mount(source, target, fstype, flags, data) != 0) throw_errno(env, "mount", target, errno);
  }
  free(source);
  free(target);
  free(fstype);
  free(data);
  return NULL;
}

static napi_value js_umount(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc != 2) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", "umount(target, flags)");
    return NULL;
  }
  char *target = NULL;
  unsigned long flags = 0;
  if (get_string(env, argv[0], 0, &target) == 0 && get_flags(env, argv[1], &flags) == 0) {
    if (umount2(target, (int)flags) != 0) throw_errno(env, "umount", target, errno);
  }
  free(target);
  return NULL;
}

static napi_value js_is_mount_point(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc != 1) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", "isMountPoint(path)");
    return NULL;
  }
  char *path = NULL;
  if (get_string(env, argv[0], 0, &path) != 0) return NULL;
  struct statx stx;
  int r = statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW | AT_STATX_DONT_SYNC, STATX_BASIC_STATS, &stx);
  int err = errno;
  napi_value out = NULL;
  if (r != 0) {
    if (err == ENOENT || err == ENOTDIR) napi_get_boolean(env, false, &out);
    else throw_errno(env, "statx", path, err);
  } else if (!(stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT)) {
    napi_get_null(env, &out);
  } else {
    napi_get_boolean(env, (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0, &out);
  }
  free(path);
  return out;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"mount", NULL, js_mount, NULL, NULL, NULL, napi_enumerable, NULL},
    {"umount", NULL, js_umount, NULL, NULL, NULL, napi_enumerable, NULL},
    {"isMountPoint", NULL, js_is_mount_point, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
