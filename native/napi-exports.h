/*
 * What the addons that hand JavaScript opaque handles share: their exports object (an
 * `available` flag, then functions), and reading a handle back from an argument. A handle is
 * an N-API external; anything else is refused, so no caller can pass in another pointer.
 */
#ifndef CARTRIDGE_NAPI_EXPORTS_H
#define CARTRIDGE_NAPI_EXPORTS_H

#include <node_api.h>
#include <stdbool.h>
#include <stddef.h>

static inline void export_function(napi_env env, napi_value exports, const char *name,
                                   napi_callback callback) {
  napi_value function;
  napi_create_function(env, name, NAPI_AUTO_LENGTH, callback, NULL, &function);
  napi_set_named_property(env, exports, name, function);
}

static inline void export_available(napi_env env, napi_value exports, bool available) {
  napi_value value;
  napi_get_boolean(env, available, &value);
  napi_set_named_property(env, exports, "available", value);
}

/* The pointer of the handle given as the call's only argument, or NULL (a TypeError thrown). */
static inline void *handle_argument(napi_env env, napi_callback_info info, const char *usage) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  napi_valuetype type;
  void *data = NULL;
  if (argc < 1 || napi_typeof(env, argv[0], &type) != napi_ok || type != napi_external ||
      napi_get_value_external(env, argv[0], &data) != napi_ok || data == NULL) {
    napi_throw_type_error(env, NULL, usage);
    return NULL;
  }
  return data;
}

#endif
