/*
 * Watches what a path names, so that a writer need not `stat` it before every commit
 * (ARCHITECTURE.md §86). The writer asks before each commit whether the path still names its
 * file and whether the file is still as long as it wrote it. A `stat` answers both, 2-3
 * microseconds with Node's binding. An inotify instance watching the file and every directory
 * on the way to it answers "nothing happened since you last asked" with one non-blocking `read`
 * that finds no event.
 *
 * Events that make the answer "look again" (the caller then runs its full check):
 * - on the file: IN_MODIFY (another program wrote or cut it; the writer's own writes through a
 *   mapping raise none), IN_ATTRIB (its link count changed: unlinked, or another file renamed
 *   over it; also a chmod or touch, which the full check finds harmless), IN_MOVE_SELF,
 *   IN_DELETE_SELF, and an overflowed queue;
 * - on a directory on the way: the directory moved or removed, or an entry of the name that
 *   leads to the file created, removed or renamed. These make the answer "gone": the watches
 *   may no longer be on the path the writer checks, so the caller stops using them.
 * Events on other names in those directories are read and ignored.
 *
 * Exports: `available`; `watchPath(directories, names, filePath)` returning an opaque watch, or
 * throwing when the path is not on a local file system whose changes inotify sees; `poll(watch)`
 * returning 0 (quiet), 1 (look again) or 2 (gone); `closeWatch(watch)` (idempotent; a watch not
 * closed is closed when collected).
 */
#include <node_api.h>
#include <stdint.h>
#include <string.h>

#if defined(__linux__)
#include <errno.h>
#include <stdlib.h>
#include <sys/inotify.h>
#include <sys/vfs.h>
#include <unistd.h>
#define PATH_WATCH_AVAILABLE 1
#else
#define PATH_WATCH_AVAILABLE 0
#endif

#if PATH_WATCH_AVAILABLE

/* Directories on the way to a file that one watch covers (path depth). */
#define DIRECTORIES_MAX 64
#define NAME_MAX_BYTES 256
#define PATH_MAX_BYTES 4096

enum { QUIET = 0, LOOK_AGAIN = 1, GONE = 2 };

typedef struct {
  int descriptor;
  int file_watch;
  size_t directory_count;
  int directory_watches[DIRECTORIES_MAX];
  char names[DIRECTORIES_MAX][NAME_MAX_BYTES];
} path_watch_t;

static const uint32_t FILE_EVENTS = IN_MODIFY | IN_ATTRIB | IN_MOVE_SELF | IN_DELETE_SELF;
static const uint32_t DIRECTORY_EVENTS = IN_MOVE_SELF | IN_DELETE_SELF | IN_CREATE | IN_DELETE |
                                         IN_MOVED_FROM | IN_MOVED_TO | IN_ONLYDIR;
static const uint32_t ENTRY_EVENTS = IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO;

/* File systems whose changes all pass through this kernel, so inotify sees every one. */
static int local_file_system(const char *path) {
  struct statfs status;
  if (statfs(path, &status) != 0) return 0;
  switch ((unsigned long)status.f_type) {
    case 0xEF53UL:     /* ext2, ext3, ext4 */
    case 0x58465342UL: /* xfs */
    case 0x9123683EUL: /* btrfs */
    case 0x01021994UL: /* tmpfs */
    case 0xF2F52010UL: /* f2fs */
    case 0x794C7630UL: /* overlayfs */
      return 1;
    default:
      return 0;
  }
}

static void close_watch(path_watch_t *watch) {
  if (watch->descriptor < 0) return;
  close(watch->descriptor);
  watch->descriptor = -1;
}

static void finalize_watch(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  path_watch_t *watch = (path_watch_t *)data;
  close_watch(watch);
  free(watch);
}

static int string_of(napi_env env, napi_value value, char *out, size_t capacity) {
  size_t length = 0;
  if (napi_get_value_string_utf8(env, value, out, capacity, &length) != napi_ok) return 0;
  /* A string that filled the buffer was cut: refuse it rather than watch another name. */
  return length + 1 < capacity && strlen(out) == length;
}

static path_watch_t *watch_of(napi_env env, napi_value value) {
  napi_valuetype type;
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_external) return NULL;
  void *data = NULL;
  napi_get_value_external(env, value, &data);
  return (path_watch_t *)data;
}

static napi_value fail(napi_env env, const char *code, const char *message) {
  napi_throw_error(env, code, message);
  return NULL;
}

static napi_value watch_path(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  bool directories_array = false, names_array = false;
  if (argc < 3 || napi_is_array(env, argv[0], &directories_array) != napi_ok ||
      napi_is_array(env, argv[1], &names_array) != napi_ok || !directories_array ||
      !names_array) {
    napi_throw_type_error(env, NULL, "watchPath(directories, names, filePath) takes arrays");
    return NULL;
  }
  uint32_t count = 0, name_count = 0;
  napi_get_array_length(env, argv[0], &count);
  napi_get_array_length(env, argv[1], &name_count);
  if (count == 0 || count != name_count || count > DIRECTORIES_MAX) {
    napi_throw_range_error(env, NULL, "watchPath: one name per directory, at most 64");
    return NULL;
  }
  char file_path[PATH_MAX_BYTES];
  if (!string_of(env, argv[2], file_path, sizeof file_path)) {
    napi_throw_type_error(env, NULL, "watchPath: the file path must be a string");
    return NULL;
  }
  if (!local_file_system(file_path)) return fail(env, "ENOTSUP", "not a local file system");
  path_watch_t *watch = calloc(1, sizeof *watch);
  if (watch == NULL) return fail(env, "ENOMEM", "out of memory");
  watch->descriptor = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (watch->descriptor < 0) {
    free(watch);
    return fail(env, "EMFILE", strerror(errno));
  }
  watch->directory_count = count;
  for (uint32_t index = 0; index < count; index++) {
    napi_value directory_value, name_value;
    char directory[PATH_MAX_BYTES];
    napi_get_element(env, argv[0], index, &directory_value);
    napi_get_element(env, argv[1], index, &name_value);
    if (!string_of(env, directory_value, directory, sizeof directory) ||
        !string_of(env, name_value, watch->names[index], NAME_MAX_BYTES)) {
      finalize_watch(env, watch, NULL);
      napi_throw_type_error(env, NULL, "watchPath: directories and names must be strings");
      return NULL;
    }
    /* IN_DONT_FOLLOW: a symbolic link on the way is refused by the caller before this. */
    watch->directory_watches[index] =
        inotify_add_watch(watch->descriptor, directory, DIRECTORY_EVENTS | IN_DONT_FOLLOW);
    if (watch->directory_watches[index] < 0) {
      int error = errno;
      finalize_watch(env, watch, NULL);
      return fail(env, "EWATCH", strerror(error));
    }
  }
  watch->file_watch = inotify_add_watch(watch->descriptor, file_path, FILE_EVENTS | IN_DONT_FOLLOW);
  if (watch->file_watch < 0) {
    int error = errno;
    finalize_watch(env, watch, NULL);
    return fail(env, "EWATCH", strerror(error));
  }
  napi_value result;
  if (napi_create_external(env, watch, finalize_watch, NULL, &result) != napi_ok) {
    finalize_watch(env, watch, NULL);
    return NULL;
  }
  return result;
}

static int verdict_of(const path_watch_t *watch, const struct inotify_event *event) {
  if (event->mask & IN_Q_OVERFLOW) return LOOK_AGAIN;
  if (event->wd == watch->file_watch) {
    if (event->mask & (IN_IGNORED | IN_UNMOUNT)) return GONE;
    return (event->mask & FILE_EVENTS) ? LOOK_AGAIN : QUIET;
  }
  for (size_t index = 0; index < watch->directory_count; index++) {
    if (event->wd != watch->directory_watches[index]) continue;
    if (event->mask & (IN_MOVE_SELF | IN_DELETE_SELF | IN_IGNORED | IN_UNMOUNT)) return GONE;
    if ((event->mask & ENTRY_EVENTS) && event->len > 0 &&
        strncmp(event->name, watch->names[index], NAME_MAX_BYTES) == 0) {
      return GONE;
    }
    return QUIET;
  }
  /* A watch this instance no longer knows (removed): nothing about the path. */
  return QUIET;
}

static napi_value poll_watch(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  path_watch_t *watch = argc >= 1 ? watch_of(env, argv[0]) : NULL;
  if (watch == NULL) {
    napi_throw_type_error(env, NULL, "poll(watch) takes a watch");
    return NULL;
  }
  int verdict = QUIET;
  if (watch->descriptor < 0) {
    verdict = GONE;
  } else {
    /* Aligned for struct inotify_event; every event is read, whatever the verdict so far. */
    char buffer[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
    for (;;) {
      ssize_t length = read(watch->descriptor, buffer, sizeof buffer);
      if (length < 0) {
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) verdict = GONE;
        break;
      }
      if (length == 0) break;
      for (char *at = buffer; at < buffer + length;) {
        const struct inotify_event *event = (const struct inotify_event *)at;
        int seen = verdict_of(watch, event);
        if (seen > verdict) verdict = seen;
        at += sizeof(struct inotify_event) + event->len;
      }
    }
  }
  napi_value result;
  napi_create_int32(env, verdict, &result);
  return result;
}

static napi_value close_watch_export(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  path_watch_t *watch = argc >= 1 ? watch_of(env, argv[0]) : NULL;
  if (watch == NULL) {
    napi_throw_type_error(env, NULL, "closeWatch(watch) takes a watch");
    return NULL;
  }
  close_watch(watch);
  return NULL;
}

#endif

static void export_function(napi_env env, napi_value exports, const char *name,
                            napi_callback callback) {
  napi_value function;
  napi_create_function(env, name, NAPI_AUTO_LENGTH, callback, NULL, &function);
  napi_set_named_property(env, exports, name, function);
}

NAPI_MODULE_INIT() {
  napi_value available;
  napi_get_boolean(env, PATH_WATCH_AVAILABLE, &available);
  napi_set_named_property(env, exports, "available", available);
#if PATH_WATCH_AVAILABLE
  export_function(env, exports, "watchPath", watch_path);
  export_function(env, exports, "poll", poll_watch);
  export_function(env, exports, "closeWatch", close_watch_export);
#else
  (void)export_function;
#endif
  return exports;
}
