/*
 * LZ4 blocks decoded straight into the caller's buffer, one or many at a time. Consolidated
 * runs of appended log lines are written once and read whole, often: zstd decoded them at
 * 1.4-2 GB/s here, most of a log's read, where LZ4's format (a token, literals, a 16-bit
 * offset and a length per sequence; no entropy coding) decodes at twice that and more. The
 * binding Cartridge compresses with (lz4-napi) decodes only into a buffer of its own, which it
 * allocates and Node copies: slower than zstd for the same bytes. So the decoder is here.
 *
 * A block is lz4-napi's: a little-endian u32 of the decoded length, then a raw LZ4 block. Every
 * byte is untrusted: each read is checked against the end of the input, each write against the
 * end of the target, each match offset against the bytes already decoded. The fast paths copy
 * 8 or 16 bytes at a time only where both buffers have that much room left, so nothing is
 * read or written outside them. A block must decode to exactly its target's length.
 *
 * `decodeBlocks` takes many blocks; when they add up to PARALLEL_MIN_BYTES or more, a helper
 * thread decodes the second half of the bytes while the calling thread decodes the first, and
 * the call returns when both are done (to JavaScript it is one synchronous call).
 */
#include <node_api.h>
#include "napi-bytes.h"
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Below this many target bytes a batch stays on the calling thread: starting and joining a
 * thread costs tens of microseconds. */
#define PARALLEL_MIN_BYTES (1024 * 1024)
/* The most blocks one call takes, so that a caller cannot make it allocate without bound. */
#define BLOCKS_MAX 65536
#define MIN_MATCH_BYTES 4
#define SIZE_PREFIX_BYTES 4

/* Reads a length continued by bytes of 255 (LZ4's encoding); 0 when the input ends first. */
static int read_length(const uint8_t **input, const uint8_t *input_end, size_t *length) {
  unsigned more;
  do {
    if (*input >= input_end) return 0;
    more = *(*input)++;
    *length += more;
  } while (more == 255);
  return 1;
}

/* Decodes one raw block into [target, target + target_length); returns 1 when it decoded to
 * exactly that length, 0 for anything malformed. */
static int decode_raw_block(const uint8_t *input, size_t input_length, uint8_t *target,
                            size_t target_length) {
  const uint8_t *input_end = input + input_length;
  uint8_t *output = target;
  uint8_t *output_end = target + target_length;
  if (input_length == 0) return target_length == 0;
  for (;;) {
    if (input >= input_end) return 0;
    unsigned token = *input++;
    size_t literal_length = token >> 4;
    if (literal_length == 15 && !read_length(&input, input_end, &literal_length)) return 0;
    if ((size_t)(input_end - input) < literal_length ||
        (size_t)(output_end - output) < literal_length)
      return 0;
    if (literal_length <= 16 && input_end - input >= 16 && output_end - output >= 16)
      memcpy(output, input, 16);
    else
      memcpy(output, input, literal_length);
    output += literal_length;
    input += literal_length;
    /* The last sequence is literals alone; it must fill the target exactly. */
    if (input == input_end) return output == output_end;
    if (input_end - input < 2) return 0;
    size_t offset = (size_t)input[0] | ((size_t)input[1] << 8);
    input += 2;
    if (offset == 0 || offset > (size_t)(output - target)) return 0;
    size_t match_length = token & 15;
    if (match_length == 15 && !read_length(&input, input_end, &match_length)) return 0;
    match_length += MIN_MATCH_BYTES;
    if ((size_t)(output_end - output) < match_length) return 0;
    const uint8_t *from = output - offset;
    uint8_t *match_end = output + match_length;
    if (offset >= 16 && (size_t)(output_end - output) >= match_length + 16) {
      /* Each 16-byte copy reads bytes written at least 16 before it: never overlapping. */
      while (output < match_end) {
        memcpy(output, from, 16);
        output += 16;
        from += 16;
      }
    } else if (offset >= 8 && (size_t)(output_end - output) >= match_length + 8) {
      while (output < match_end) {
        memcpy(output, from, 8);
        output += 8;
        from += 8;
      }
    } else {
      /* A short offset repeats a pattern: byte by byte, as the format defines it. */
      while (output < match_end) *output++ = *from++;
    }
    output = match_end;
  }
}

typedef struct {
  const uint8_t *source;
  size_t source_length;
  uint8_t *target;
  size_t target_length;
} block_job;

static int decode_block(const block_job *job) {
  if (job->source_length < SIZE_PREFIX_BYTES) return 0;
  const uint8_t *prefix = job->source;
  size_t declared = (size_t)prefix[0] | ((size_t)prefix[1] << 8) | ((size_t)prefix[2] << 16) |
                    ((size_t)prefix[3] << 24);
  if (declared != job->target_length) return 0;
  return decode_raw_block(job->source + SIZE_PREFIX_BYTES, job->source_length - SIZE_PREFIX_BYTES,
                          job->target, job->target_length);
}

typedef struct {
  const block_job *jobs;
  size_t first;
  size_t end;
  /* The first block in [first, end) that did not decode, or end. */
  size_t failed;
} block_range;

static void decode_range(block_range *range) {
  range->failed = range->end;
  for (size_t index = range->first; index < range->end; index++) {
    if (!decode_block(&range->jobs[index])) {
      range->failed = index;
      return;
    }
  }
}

static void *decode_range_thread(void *argument) {
  decode_range((block_range *)argument);
  return NULL;
}

static const char *const USAGE =
    "decodeBlocks(sources, targets) takes two arrays of Uint8Array of one length";

static int block_at(napi_env env, napi_value sources, napi_value targets, uint32_t index,
                    block_job *job) {
  napi_value source;
  napi_value target;
  unsigned char *source_bytes;
  unsigned char *target_bytes;
  if (napi_get_element(env, sources, index, &source) != napi_ok ||
      napi_get_element(env, targets, index, &target) != napi_ok ||
      !bytes_of(env, source, &source_bytes, &job->source_length) ||
      !bytes_of(env, target, &target_bytes, &job->target_length))
    return 0;
  job->source = source_bytes;
  job->target = target_bytes;
  return 1;
}

/*
 * decodeBlocks(sources: Uint8Array[], targets: Uint8Array[]): number. Decodes sources[i] into
 * targets[i]; returns -1 when every block decoded to exactly its target's length, else the
 * index of the first that did not (later targets may or may not have been written).
 */
static napi_value decode_blocks(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  uint32_t count = 0;
  uint32_t target_count = 0;
  bool sources_array = false;
  bool targets_array = false;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 2 ||
      napi_is_array(env, argv[0], &sources_array) != napi_ok || !sources_array ||
      napi_is_array(env, argv[1], &targets_array) != napi_ok || !targets_array ||
      napi_get_array_length(env, argv[0], &count) != napi_ok ||
      napi_get_array_length(env, argv[1], &target_count) != napi_ok || count != target_count ||
      count > BLOCKS_MAX) {
    napi_throw_type_error(env, NULL, USAGE);
    return NULL;
  }
  block_job *jobs = (block_job *)malloc((count == 0 ? 1 : count) * sizeof(block_job));
  if (jobs == NULL) {
    napi_throw_error(env, NULL, "decodeBlocks: out of memory");
    return NULL;
  }
  size_t total_bytes = 0;
  for (uint32_t index = 0; index < count; index++) {
    if (!block_at(env, argv[0], argv[1], index, &jobs[index])) {
      free(jobs);
      napi_throw_type_error(env, NULL, USAGE);
      return NULL;
    }
    total_bytes += jobs[index].target_length;
  }
  /* The helper's range starts at the first block past half of the bytes. */
  size_t split = count;
  if (count >= 2 && total_bytes >= PARALLEL_MIN_BYTES) {
    size_t before = 0;
    for (split = 0; split < count && before < total_bytes / 2; split++)
      before += jobs[split].target_length;
  }
  block_range own = {jobs, 0, split, 0};
  block_range helper = {jobs, split, count, count};
  pthread_t thread;
  int started = split < count && pthread_create(&thread, NULL, decode_range_thread, &helper) == 0;
  if (!started) own.end = count;
  decode_range(&own);
  if (started) pthread_join(thread, NULL);
  free(jobs);
  size_t failed = own.failed < own.end ? own.failed : (started ? helper.failed : count);
  napi_value result;
  if (napi_create_int32(env, failed < count ? (int32_t)failed : -1, &result) != napi_ok)
    return NULL;
  return result;
}

/* decodeBlock(source: Uint8Array, target: Uint8Array): boolean, for one block. */
static napi_value decode_one(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  block_job job;
  unsigned char *source;
  unsigned char *target;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 2 ||
      !bytes_of(env, argv[0], &source, &job.source_length) ||
      !bytes_of(env, argv[1], &target, &job.target_length)) {
    napi_throw_type_error(env, NULL, "decodeBlock(source, target) takes two Uint8Array");
    return NULL;
  }
  job.source = source;
  job.target = target;
  napi_value result;
  if (napi_get_boolean(env, decode_block(&job) != 0, &result) != napi_ok) return NULL;
  return result;
}

static int export_function(napi_env env, napi_value exports, const char *name,
                           napi_callback callback) {
  napi_value function;
  return napi_create_function(env, name, NAPI_AUTO_LENGTH, callback, NULL, &function) ==
             napi_ok &&
         napi_set_named_property(env, exports, name, function) == napi_ok;
}

static napi_value init(napi_env env, napi_value exports) {
  if (!export_function(env, exports, "decodeBlock", decode_one) ||
      !export_function(env, exports, "decodeBlocks", decode_blocks))
    return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
