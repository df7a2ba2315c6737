/*
 * Writes into a file through a shared memory mapping of it. A journal commit is one `pwritev`
 * otherwise, whose fixed cost (the system call and Node's binding, 2-5 microseconds for a small
 * record here) was a fifth of a small put. Bytes copied into a `MAP_SHARED` mapping of the file
 * land in the same page cache a `pwritev` would fill: other descriptors and processes read them
 * at once, they survive the death of this process, and `fdatasync` on the descriptor makes them
 * durable. Only bytes inside the file are ever written this way (the journal keeps zeros written
 * ahead of its end for it): a mapping never grows a file.
 *
 * The one hazard is a page of the mapping that no longer lies inside the file, because another
 * program cut the file under the writer: touching it raises SIGBUS, which would kill the
 * process. So every copy runs under a guard: a SIGBUS handler, installed once, jumps back out of
 * a guarded copy on the same thread and the copy reports failure (the writer then treats the
 * file as changed under it); a SIGBUS anywhere else is not ours, and the handler puts the
 * previous disposition back so that the fault repeats and is handled as it would have been.
 *
 * Exports: `available` (false where this platform has no such mapping, then nothing else is
 * used), `mapWindow(descriptor, offset, lengthBytes)` returning an opaque window,
 * `copyInto(window, position, buffers)` returning false when the guard caught a fault, and
 * `unmapWindow(window)` (idempotent; a window not unmapped is unmapped when collected). A bad
 * argument is a TypeError or a RangeError, never a write out of bounds.
 */
#include <node_api.h>
#include "napi-exports.h"
#include "napi-bytes.h"
#include <stdint.h>
#include <string.h>

#if defined(__linux__)
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#define MAPPED_FILE_AVAILABLE 1
#else
#define MAPPED_FILE_AVAILABLE 0
#endif

#if MAPPED_FILE_AVAILABLE

/* The pieces one copy takes; a commit passes a few per record, in batches of at most this. */
#define PIECES_MAX 1024

typedef struct {
  unsigned char *base;
  size_t length_bytes;
} window_t;

/* Set only while this thread copies into a mapping: where a SIGBUS jumps back to. */
static __thread sigjmp_buf *volatile guard_jump = NULL;
static struct sigaction previous_bus_action;
static pthread_once_t handler_once = PTHREAD_ONCE_INIT;
static int handler_installed = 0;

static void on_bus(int signal_number, siginfo_t *info, void *context) {
  (void)info;
  (void)context;
  sigjmp_buf *jump = guard_jump;
  if (jump != NULL) {
    guard_jump = NULL;
    siglongjmp(*jump, 1);
  }
  /* Not a guarded copy: the previous disposition handles the repeated fault. */
  sigaction(signal_number, &previous_bus_action, NULL);
}

static void install_handler(void) {
  struct sigaction action;
  memset(&action, 0, sizeof action);
  action.sa_sigaction = on_bus;
  sigemptyset(&action.sa_mask);
  /* SA_NODEFER: leaving the handler by a jump must not leave SIGBUS blocked. */
  action.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
  handler_installed = sigaction(SIGBUS, &action, &previous_bus_action) == 0;
}

static void unmap_window(window_t *window) {
  if (window->base == NULL) return;
  munmap(window->base, window->length_bytes);
  window->base = NULL;
}

static void finalize_window(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  window_t *window = (window_t *)data;
  unmap_window(window);
  free(window);
}

static int integer_of(napi_env env, napi_value value, int64_t *out) {
  napi_valuetype type;
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_number) return 0;
  double number;
  napi_get_value_double(env, value, &number);
  if (!(number >= 0 && number <= 9007199254740991.0) || number != (double)(int64_t)number) return 0;
  *out = (int64_t)number;
  return 1;
}

static window_t *window_of(napi_env env, napi_value value) {
  napi_valuetype type;
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_external) return NULL;
  void *data = NULL;
  napi_get_value_external(env, value, &data);
  return (window_t *)data;
}

static napi_value map_window(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int64_t descriptor, offset, length_bytes;
  if (argc < 3 || !integer_of(env, argv[0], &descriptor) || !integer_of(env, argv[1], &offset) ||
      !integer_of(env, argv[2], &length_bytes) || length_bytes == 0 || descriptor > INT32_MAX) {
    napi_throw_type_error(env, NULL, "mapWindow(descriptor, offset, lengthBytes) takes integers");
    return NULL;
  }
  if (offset % 4096 != 0) {
    napi_throw_range_error(env, NULL, "mapWindow: the offset must be a multiple of 4096");
    return NULL;
  }
  pthread_once(&handler_once, install_handler);
  if (!handler_installed) {
    napi_throw_error(env, "ENOTSUP", "mapWindow: the SIGBUS guard could not be installed");
    return NULL;
  }
  void *base = mmap(NULL, (size_t)length_bytes, PROT_READ | PROT_WRITE, MAP_SHARED,
                    (int)descriptor, (off_t)offset);
  if (base == MAP_FAILED) {
    napi_throw_error(env, "EMAP", strerror(errno));
    return NULL;
  }
  window_t *window = malloc(sizeof *window);
  if (window == NULL) {
    munmap(base, (size_t)length_bytes);
    napi_throw_error(env, "ENOMEM", "mapWindow: out of memory");
    return NULL;
  }
  window->base = (unsigned char *)base;
  window->length_bytes = (size_t)length_bytes;
  napi_value result;
  if (napi_create_external(env, window, finalize_window, NULL, &result) != napi_ok) {
    finalize_window(env, window, NULL);
    return NULL;
  }
  return result;
}

static void copy_pieces(unsigned char *target, unsigned char **pieces, const size_t *lengths,
                        size_t count) {
  for (size_t index = 0; index < count; index++) {
    memcpy(target, pieces[index], lengths[index]);
    target += lengths[index];
  }
}

/* Copies the pieces back to back from `start`; 0 when a SIGBUS cut the copy short. */
static int guarded_copy(unsigned char *start, unsigned char **pieces, size_t *lengths,
                        size_t count) {
  /* Kept in memory across the jump, so that nothing read after it is a stale register. */
  unsigned char *volatile target = start;
  unsigned char **volatile sources = pieces;
  size_t *volatile sizes = lengths;
  volatile size_t total = count;
  sigjmp_buf jump;
  /* Saving no signal mask: the handler runs with SA_NODEFER, so none needs restoring. */
  if (sigsetjmp(jump, 0) != 0) return 0;
  guard_jump = &jump;
  copy_pieces(target, sources, sizes, total);
  guard_jump = NULL;
  return 1;
}

static napi_value copy_into(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  window_t *window = argc >= 3 ? window_of(env, argv[0]) : NULL;
  int64_t position;
  bool is_array = false;
  if (window == NULL || !integer_of(env, argv[1], &position) ||
      napi_is_array(env, argv[2], &is_array) != napi_ok || !is_array) {
    napi_throw_type_error(env, NULL, "copyInto(window, position, buffers) takes a window");
    return NULL;
  }
  if (window->base == NULL) {
    napi_throw_error(env, "EBADF", "copyInto: the window is unmapped");
    return NULL;
  }
  uint32_t count;
  napi_get_array_length(env, argv[2], &count);
  if (count > PIECES_MAX) {
    napi_throw_range_error(env, NULL, "copyInto: too many buffers");
    return NULL;
  }
  unsigned char *pieces[PIECES_MAX];
  size_t lengths[PIECES_MAX];
  size_t total_bytes = 0;
  for (uint32_t index = 0; index < count; index++) {
    napi_value element;
    napi_get_element(env, argv[2], index, &element);
    if (!bytes_of(env, element, &pieces[index], &lengths[index])) {
      napi_throw_type_error(env, NULL, "copyInto: every buffer must be a Uint8Array");
      return NULL;
    }
    total_bytes += lengths[index];
  }
  if ((uint64_t)position > window->length_bytes ||
      total_bytes > window->length_bytes - (size_t)position) {
    napi_throw_range_error(env, NULL, "copyInto: the bytes do not fit in the window");
    return NULL;
  }
  napi_value result;
  napi_get_boolean(env, guarded_copy(window->base + position, pieces, lengths, count), &result);
  return result;
}

static napi_value unmap_window_export(napi_env env, napi_callback_info info) {
  window_t *window = handle_argument(env, info, "unmapWindow(window) takes a window");
  if (window != NULL) unmap_window(window);
  return NULL;
}

#endif

NAPI_MODULE_INIT() {
  export_available(env, exports, MAPPED_FILE_AVAILABLE);
#if MAPPED_FILE_AVAILABLE
  export_function(env, exports, "mapWindow", map_window);
  export_function(env, exports, "copyInto", copy_into);
  export_function(env, exports, "unmapWindow", unmap_window_export);
#endif
  return exports;
}
