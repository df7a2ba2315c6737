/*
 * BLAKE3 (the default hash mode, 32-byte output) for the small inputs that Cartridge hashes
 * several times per record: chain links, Merkle leaves and nodes, the blobs of small files.
 * The libraries that JavaScript can call pay a fixed cost per call that dwarfs the hashing of a
 * hundred bytes: the Rust binding about 4 microseconds, the WebAssembly build about one (it
 * copies the input into its memory, then the digest out of it into a new array). Here a call is
 * a few hundred nanoseconds: the input is read where it lies and the digest written into a
 * buffer the caller owns.
 *
 * This is the portable form of the algorithm, written from the BLAKE3 specification (one
 * compression function, chunks of 1 024 bytes chained into a binary tree): no SIMD, so large
 * inputs still go to the Rust binding, which hashes many chunks at once. The module keeps no
 * state, so it is safe in worker threads. A bad argument is a TypeError or RangeError, never a
 * read or write out of bounds.
 */
#include <node_api.h>
#include "napi-bytes.h"
#include <stdint.h>
#include <string.h>

#define BLOCK_BYTES 64
#define CHUNK_BYTES 1024
#define OUT_BYTES 32
/* A tree over at most 2^64 bytes has at most 54 levels of chunks (2^64 / 2^10). */
#define STACK_DEPTH_MAX 54

enum {
  CHUNK_START = 1 << 0,
  CHUNK_END = 1 << 1,
  PARENT = 1 << 2,
  ROOT = 1 << 3,
};

static const uint32_t IV[8] = {
    0x6A09E667u, 0xBB67AE85u, 0x3C6EF372u, 0xA54FF53Au,
    0x510E527Fu, 0x9B05688Cu, 0x1F83D9ABu, 0x5BE0CD19u,
};

/*
 * The message word each of the 7 rounds takes at each position: round 0 takes them in order,
 * and each later round applies the specification's permutation (2, 6, 3, 10, 7, 0, 4, 13, 1,
 * 11, 12, 5, 9, 14, 15, 8) to the previous round's order.
 */
static const uint8_t SCHEDULE[7][16] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8},
    {3, 4, 10, 12, 13, 2, 7, 14, 6, 5, 9, 0, 11, 15, 8, 1},
    {10, 7, 12, 9, 14, 3, 13, 15, 4, 0, 11, 2, 5, 8, 1, 6},
    {12, 13, 9, 11, 15, 10, 14, 8, 7, 2, 5, 3, 0, 1, 6, 4},
    {9, 14, 11, 5, 8, 12, 15, 1, 13, 3, 0, 10, 2, 6, 4, 7},
    {11, 15, 5, 0, 1, 9, 8, 6, 14, 10, 2, 12, 3, 4, 7, 13},
};

static inline uint32_t rotate_right(uint32_t word, int count) {
  return (word >> count) | (word << (32 - count));
}

static inline uint32_t load_word(const uint8_t *bytes) {
  return (uint32_t)bytes[0] | ((uint32_t)bytes[1] << 8) | ((uint32_t)bytes[2] << 16) |
         ((uint32_t)bytes[3] << 24);
}

static inline void store_word(uint8_t *bytes, uint32_t word) {
  bytes[0] = (uint8_t)word;
  bytes[1] = (uint8_t)(word >> 8);
  bytes[2] = (uint8_t)(word >> 16);
  bytes[3] = (uint8_t)(word >> 24);
}

#define MIX(a, b, c, d, x, y)                     \
  do {                                            \
    state[a] = state[a] + state[b] + (x);         \
    state[d] = rotate_right(state[d] ^ state[a], 16); \
    state[c] = state[c] + state[d];               \
    state[b] = rotate_right(state[b] ^ state[c], 12); \
    state[a] = state[a] + state[b] + (y);         \
    state[d] = rotate_right(state[d] ^ state[a], 8);  \
    state[c] = state[c] + state[d];               \
    state[b] = rotate_right(state[b] ^ state[c], 7);  \
  } while (0)

/*
 * The compression function, truncated to the 8 words a chaining value or a 32-byte digest
 * needs. `block` holds 64 bytes (the caller zero-pads a short last block; `block_length` says
 * how many of them are input).
 */
static void compress(uint32_t chaining_value[8], const uint8_t block[BLOCK_BYTES],
                     uint64_t counter, uint32_t block_length, uint32_t flags) {
  uint32_t message[16];
  for (int index = 0; index < 16; index++) message[index] = load_word(block + 4 * index);
  uint32_t state[16] = {
      chaining_value[0], chaining_value[1], chaining_value[2], chaining_value[3],
      chaining_value[4], chaining_value[5], chaining_value[6], chaining_value[7],
      IV[0], IV[1], IV[2], IV[3],
      (uint32_t)counter, (uint32_t)(counter >> 32), block_length, flags,
  };
  /* Unrolled, so that each round's message order is known when the code is compiled. */
#pragma GCC unroll 7
  for (int round = 0; round < 7; round++) {
    const uint8_t *order = SCHEDULE[round];
    MIX(0, 4, 8, 12, message[order[0]], message[order[1]]);
    MIX(1, 5, 9, 13, message[order[2]], message[order[3]]);
    MIX(2, 6, 10, 14, message[order[4]], message[order[5]]);
    MIX(3, 7, 11, 15, message[order[6]], message[order[7]]);
    MIX(0, 5, 10, 15, message[order[8]], message[order[9]]);
    MIX(1, 6, 11, 12, message[order[10]], message[order[11]]);
    MIX(2, 7, 8, 13, message[order[12]], message[order[13]]);
    MIX(3, 4, 9, 14, message[order[14]], message[order[15]]);
  }
  for (int index = 0; index < 8; index++) chaining_value[index] = state[index] ^ state[index + 8];
}

/*
 * The chaining value of one chunk (0 to 1 024 bytes; only the last chunk of an input may be
 * shorter than 1 024, and only an empty input has an empty chunk). `root` marks the chunk that
 * is the whole input.
 */
static void chunk_value(const uint8_t *input, size_t length, uint64_t chunk_counter,
                        uint32_t root, uint32_t chaining_value[8]) {
  memcpy(chaining_value, IV, sizeof IV);
  uint32_t flags = CHUNK_START;
  while (length > BLOCK_BYTES) {
    compress(chaining_value, input, chunk_counter, BLOCK_BYTES, flags);
    input += BLOCK_BYTES;
    length -= BLOCK_BYTES;
    flags = 0;
  }
  uint8_t last[BLOCK_BYTES] = {0};
  if (length > 0) memcpy(last, input, length);
  compress(chaining_value, last, chunk_counter, (uint32_t)length, flags | CHUNK_END | root);
}

/* The chaining value of a parent node over two children's values (`flags` adds ROOT). */
static void parent_value(const uint32_t left[8], const uint32_t right[8], uint32_t flags,
                         uint32_t chaining_value[8]) {
  uint8_t block[BLOCK_BYTES];
  for (int index = 0; index < 8; index++) {
    store_word(block + 4 * index, left[index]);
    store_word(block + 32 + 4 * index, right[index]);
  }
  memcpy(chaining_value, IV, sizeof IV);
  compress(chaining_value, block, 0, BLOCK_BYTES, PARENT | flags);
}

/*
 * The whole tree, as the specification's incremental hasher builds it: each finished chunk's
 * value is merged with the values on the stack as long as the count of chunks so far is even,
 * and the last chunk (kept back until the input ends) is folded into what the stack holds,
 * the final merge marked as the root.
 */
static void hash(const uint8_t *input, size_t length, uint8_t digest[OUT_BYTES]) {
  uint32_t stack[STACK_DEPTH_MAX][8];
  size_t depth = 0;
  uint64_t chunk_counter = 0;
  uint32_t value[8];
  while (length > CHUNK_BYTES) {
    chunk_value(input, CHUNK_BYTES, chunk_counter, 0, value);
    input += CHUNK_BYTES;
    length -= CHUNK_BYTES;
    chunk_counter++;
    for (uint64_t count = chunk_counter; (count & 1) == 0; count >>= 1) {
      depth--;
      parent_value(stack[depth], value, 0, value);
    }
    memcpy(stack[depth], value, sizeof value);
    depth++;
  }
  chunk_value(input, length, chunk_counter, depth == 0 ? ROOT : 0, value);
  while (depth > 0) {
    depth--;
    parent_value(stack[depth], value, depth == 0 ? ROOT : 0, value);
  }
  for (int index = 0; index < 8; index++) store_word(digest + 4 * index, value[index]);
}

/* hashInto(input: Uint8Array, target: Uint8Array, offset: number): writes 32 bytes at offset. */
static napi_value hash_into(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  uint8_t *input;
  uint8_t *target;
  size_t input_length;
  size_t target_length;
  uint32_t offset;
  if (argc != 3 || !bytes_of(env, argv[0], &input, &input_length) ||
      !bytes_of(env, argv[1], &target, &target_length) ||
      napi_get_value_uint32(env, argv[2], &offset) != napi_ok) {
    napi_throw_type_error(env, NULL, "hashInto(input, target, offset) takes two Uint8Arrays and a count");
    return NULL;
  }
  if (offset > target_length || target_length - offset < OUT_BYTES) {
    napi_throw_range_error(env, NULL, "the digest does not fit in the target");
    return NULL;
  }
  hash(input, input_length, target + offset);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value function;
  if (napi_create_function(env, "hashInto", NAPI_AUTO_LENGTH, hash_into, NULL, &function) !=
      napi_ok)
    return NULL;
  if (napi_set_named_property(env, exports, "hashInto", function) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
