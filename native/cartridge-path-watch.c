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
 * throwing when the path is not on a local file system whose changes inotify sees, or when no
 * watch can be added; `poll(watch)` returning 0 (quiet), 1 (look again) or 2 (gone);
 * `closeWatch(watch)` (idempotent; a watch not closed is closed when collected). All watches of
 * the process share one inotify instance (see `instance` below).
 */
#include <node_api.h>
#include "napi-exports.h"
#include <stdint.h>
#include <string.h>

#if defined(__linux__)
#include <errno.h>
#include <pthread.h>
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
/* Watch descriptors the process holds at once, shared between watches. */
#define WATCH_USES_MAX 4096

enum { QUIET = 0, LOOK_AGAIN = 1, GONE = 2 };

typedef struct path_watch path_watch_t;
struct path_watch {
  path_watch_t *next;
  int closed;
  /* The verdict of the events read since this watch was last polled, by any poll. */
  int pending;
  int file_wd;
  size_t directory_count;
  int directory_wds[DIRECTORIES_MAX];
  char names[DIRECTORIES_MAX][NAME_MAX_BYTES];
};

typedef struct {
  int wd;
  int users;
} wd_use_t;

/*
 * One inotify instance for the whole process, opened by the first watch and never closed:
 * closing an instance waits for the kernel to retire its marks (7-19 ms measured here, which a
 * cartridge's close would pay), and instances are few (128 per user by default, shared with
 * every other program of that user). Watches share it; the kernel gives one descriptor per
 * inode, so two watches of the same directory share one, counted in `uses`. Every poll reads
 * all pending events and hands each watch its own verdict.
 */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int instance = -1;
static path_watch_t *watches = NULL;
static wd_use_t uses[WATCH_USES_MAX];
static size_t use_count = 0;

static const uint32_t FILE_EVENTS = IN_MODIFY | IN_ATTRIB | IN_MOVE_SELF | IN_DELETE_SELF;
static const uint32_t DIRECTORY_EVENTS =
    IN_MOVE_SELF | IN_DELETE_SELF | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO;
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

/* Adds a watch on `path` for this process (shared with any other on the same inode). */
static int add_use(const char *path, uint32_t mask) {
  if (use_count == WATCH_USES_MAX) {
    errno = ENOSPC;
    return -1;
  }
  int wd = inotify_add_watch(instance, path, mask | IN_MASK_ADD | IN_DONT_FOLLOW);
  if (wd < 0) return -1;
  for (size_t index = 0; index < use_count; index++) {
    if (uses[index].wd == wd) {
      uses[index].users++;
      return wd;
    }
  }
  uses[use_count].wd = wd;
  uses[use_count].users = 1;
  use_count++;
  return wd;
}

static void drop_use_at(size_t index) {
  uses[index] = uses[use_count - 1];
  use_count--;
}

/* Gives back one use of `wd`; the last one removes the kernel's watch. */
static void release_use(int wd) {
  if (wd < 0) return;
  for (size_t index = 0; index < use_count; index++) {
    if (uses[index].wd != wd) continue;
    if (--uses[index].users == 0) {
      inotify_rm_watch(instance, wd);
      drop_use_at(index);
    }
    return;
  }
}

static void release_all(path_watch_t *watch) {
  release_use(watch->file_wd);
  watch->file_wd = -1;
  for (size_t index = 0; index < watch->directory_count; index++) {
    release_use(watch->directory_wds[index]);
    watch->directory_wds[index] = -1;
  }
}

/* The kernel removed `wd` (its inode is gone, or unmounted): no watch may release it again. */
static void forget_wd(int wd) {
  for (size_t index = 0; index < use_count; index++) {
    if (uses[index].wd == wd) {
      drop_use_at(index);
      break;
    }
  }
  for (path_watch_t *watch = watches; watch != NULL; watch = watch->next) {
    int used = 0;
    if (watch->file_wd == wd) {
      watch->file_wd = -1;
      used = 1;
    }
    for (size_t index = 0; index < watch->directory_count; index++) {
      if (watch->directory_wds[index] == wd) {
        watch->directory_wds[index] = -1;
        used = 1;
      }
    }
    if (used) watch->pending = GONE;
  }
}

static int verdict_of(const path_watch_t *watch, const struct inotify_event *event) {
  if (event->mask & IN_Q_OVERFLOW) return LOOK_AGAIN;
  if (watch->file_wd >= 0 && event->wd == watch->file_wd) {
    if (event->mask & IN_UNMOUNT) return GONE;
    return (event->mask & FILE_EVENTS) ? LOOK_AGAIN : QUIET;
  }
  int verdict = QUIET;
  for (size_t index = 0; index < watch->directory_count; index++) {
    if (watch->directory_wds[index] < 0 || event->wd != watch->directory_wds[index]) continue;
    if (event->mask & (IN_MOVE_SELF | IN_DELETE_SELF | IN_UNMOUNT)) return GONE;
    if ((event->mask & ENTRY_EVENTS) && event->len > 0 &&
        strncmp(event->name, watch->names[index], NAME_MAX_BYTES) == 0) {
      return GONE;
    }
  }
  return verdict;
}

/* Reads every pending event and adds its verdict to each watch's. Called with the lock held. */
static void drain(void) {
  /* Aligned for struct inotify_event. */
  char buffer[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
  for (;;) {
    ssize_t length = read(instance, buffer, sizeof buffer);
    if (length < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        /* The instance cannot be read: no watch can tell anything any more. */
        for (path_watch_t *watch = watches; watch != NULL; watch = watch->next) {
          watch->pending = GONE;
        }
      }
      return;
    }
    if (length == 0) return;
    for (char *at = buffer; at < buffer + length;) {
      const struct inotify_event *event = (const struct inotify_event *)at;
      for (path_watch_t *watch = watches; watch != NULL; watch = watch->next) {
        int seen = verdict_of(watch, event);
        if (seen > watch->pending) watch->pending = seen;
      }
      if (event->mask & IN_IGNORED) forget_wd(event->wd);
      at += sizeof(struct inotify_event) + event->len;
    }
  }
}

static void unlink_watch(path_watch_t *watch) {
  for (path_watch_t **link = &watches; *link != NULL; link = &(*link)->next) {
    if (*link == watch) {
      *link = watch->next;
      return;
    }
  }
}

/* Gives back the watch's descriptors. Called with the lock held. */
static void close_watch(path_watch_t *watch) {
  if (watch->closed) return;
  watch->closed = 1;
  unlink_watch(watch);
  release_all(watch);
}

static void finalize_watch(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  path_watch_t *watch = (path_watch_t *)data;
  pthread_mutex_lock(&lock);
  close_watch(watch);
  pthread_mutex_unlock(&lock);
  free(watch);
}

static int string_of(napi_env env, napi_value value, char *out, size_t capacity) {
  size_t length = 0;
  if (napi_get_value_string_utf8(env, value, out, capacity, &length) != napi_ok) return 0;
  /* A string that filled the buffer was cut: refuse it rather than watch another name. */
  return length + 1 < capacity && strlen(out) == length;
}

static napi_value fail(napi_env env, const char *code, const char *message) {
  napi_throw_error(env, code, message);
  return NULL;
}

/* Adds the watch's descriptors under the lock; 0 with errno set when one could not be added. */
static int register_watch(path_watch_t *watch, char directories[][PATH_MAX_BYTES],
                          const char *file_path) {
  if (instance < 0) {
    instance = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (instance < 0) return 0;
  }
  /* Events already queued concern earlier states; they go to the watches that exist now. */
  drain();
  for (size_t index = 0; index < watch->directory_count; index++) {
    watch->directory_wds[index] = add_use(directories[index], DIRECTORY_EVENTS | IN_ONLYDIR);
    if (watch->directory_wds[index] < 0) return 0;
  }
  watch->file_wd = add_use(file_path, FILE_EVENTS);
  if (watch->file_wd < 0) return 0;
  watch->next = watches;
  watches = watch;
  return 1;
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
  char(*directories)[PATH_MAX_BYTES] = calloc(count, PATH_MAX_BYTES);
  if (watch == NULL || directories == NULL) {
    free(watch);
    free(directories);
    return fail(env, "ENOMEM", "out of memory");
  }
  watch->file_wd = -1;
  watch->directory_count = count;
  for (uint32_t index = 0; index < count; index++) {
    watch->directory_wds[index] = -1;
    napi_value directory_value, name_value;
    napi_get_element(env, argv[0], index, &directory_value);
    napi_get_element(env, argv[1], index, &name_value);
    if (!string_of(env, directory_value, directories[index], PATH_MAX_BYTES) ||
        !string_of(env, name_value, watch->names[index], NAME_MAX_BYTES)) {
      free(watch);
      free(directories);
      napi_throw_type_error(env, NULL, "watchPath: directories and names must be strings");
      return NULL;
    }
  }
  pthread_mutex_lock(&lock);
  int registered = register_watch(watch, directories, file_path);
  int error = errno;
  if (!registered) release_all(watch);
  pthread_mutex_unlock(&lock);
  free(directories);
  if (!registered) {
    free(watch);
    return fail(env, "EWATCH", strerror(error));
  }
  napi_value result;
  if (napi_create_external(env, watch, finalize_watch, NULL, &result) != napi_ok) {
    finalize_watch(env, watch, NULL);
    return NULL;
  }
  return result;
}

static napi_value poll_watch(napi_env env, napi_callback_info info) {
  path_watch_t *watch = handle_argument(env, info, "poll(watch) takes a watch");
  if (watch == NULL) return NULL;
  pthread_mutex_lock(&lock);
  int verdict = GONE;
  if (!watch->closed) {
    drain();
    verdict = watch->pending;
    watch->pending = QUIET;
  }
  pthread_mutex_unlock(&lock);
  napi_value result;
  napi_create_int32(env, verdict, &result);
  return result;
}

static napi_value close_watch_export(napi_env env, napi_callback_info info) {
  path_watch_t *watch = handle_argument(env, info, "closeWatch(watch) takes a watch");
  if (watch == NULL) return NULL;
  pthread_mutex_lock(&lock);
  close_watch(watch);
  pthread_mutex_unlock(&lock);
  return NULL;
}

#endif

NAPI_MODULE_INIT() {
  export_available(env, exports, PATH_WATCH_AVAILABLE);
#if PATH_WATCH_AVAILABLE
  export_function(env, exports, "watchPath", watch_path);
  export_function(env, exports, "poll", poll_watch);
  export_function(env, exports, "closeWatch", close_watch_export);
#endif
  return exports;
}
