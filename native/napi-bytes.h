/*
 * The one way the addons take bytes from JavaScript: a Uint8Array (a Buffer included), as a
 * pointer to its first byte (N-API adds the view's offset) and its length. Anything else is
 * refused, so that no caller can hand in memory of another element size or a plain object.
 */
#ifndef CARTRIDGE_NAPI_BYTES_H
#define CARTRIDGE_NAPI_BYTES_H

#include <node_api.h>
#include <stdbool.h>
#include <stddef.h>

static inline int bytes_of(napi_env env, napi_value value, unsigned char **data, size_t *length) {
  bool is_typed_array = false;
  if (napi_is_typedarray(env, value, &is_typed_array) != napi_ok || !is_typed_array) return 0;
  napi_typedarray_type type;
  napi_value array_buffer;
  size_t offset;
  void *raw;
  if (napi_get_typedarray_info(env, value, &type, length, &raw, &array_buffer, &offset) != napi_ok)
    return 0;
  if (type != napi_uint8_array) return 0;
  *data = (unsigned char *)raw;
  return 1;
}

#endif
