/*
 * CRC-32C (Castagnoli), the checksum of every record's frame header and payload, with the
 * CPU's own instruction for it. The library JavaScript calls otherwise runs one dependent chain
 * of that instruction: each step waits three cycles for the one before, about 3.5 GB/s here, so
 * a 64 KiB write or read spent 15-19 microseconds checksumming. The instruction can start a new
 * step every cycle, so a long input is cut into three lanes whose chains run side by side, and
 * their results are joined with the checksum's linearity: the register after lanes A, B and C is
 * shift(shift(A) ^ B) ^ C, where shift(x) is the register x after one lane of zero bytes, read
 * from a table of 4 x 256 words built at the first long input.
 *
 * The instruction is SSE 4.2's crc32 on x86-64 (checked at run time) and the CRC extension's
 * crc32c on 64-bit ARM (used only when the compiler targets it). Elsewhere the module says it has
 * nothing (`available` is false) and JavaScript keeps its library. The module keeps no state
 * besides the table, which is written once (`pthread_once`) before any long input uses it. A bad
 * argument is a TypeError, never a read out of bounds.
 */
#include <node_api.h>
#include "napi-bytes.h"
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <nmmintrin.h>
#define CRC_TARGET __attribute__((target("sse4.2")))
#define CRC_HARDWARE 1
static int hardware_present(void) {
  __builtin_cpu_init();
  return __builtin_cpu_supports("sse4.2");
}
CRC_TARGET static inline uint32_t step_word(uint32_t crc, uint64_t word) {
  return (uint32_t)_mm_crc32_u64(crc, word);
}
CRC_TARGET static inline uint32_t step_byte(uint32_t crc, uint8_t byte) {
  return _mm_crc32_u8(crc, byte);
}
#elif defined(__aarch64__) && defined(__ARM_FEATURE_CRC32)
#include <arm_acle.h>
#define CRC_TARGET
#define CRC_HARDWARE 1
static int hardware_present(void) { return 1; }
static inline uint32_t step_word(uint32_t crc, uint64_t word) { return __crc32cd(crc, word); }
static inline uint32_t step_byte(uint32_t crc, uint8_t byte) { return __crc32cb(crc, byte); }
#else
#define CRC_HARDWARE 0
#endif

#if CRC_HARDWARE
#include <pthread.h>

/* Bytes per lane: inputs of three lanes or more take the three-chain path. */
#define LANE_BYTES 4096

static uint64_t load_word(const uint8_t *bytes) {
  uint64_t word;
  memcpy(&word, bytes, sizeof word); /* unaligned; both targets are little-endian */
  return word;
}

/* shift(x) = SHIFT[0][x & 0xff] ^ SHIFT[1][(x >> 8) & 0xff] ^ ... over one lane of zeros. */
static uint32_t shift_table[4][256];
static pthread_once_t shift_table_once = PTHREAD_ONCE_INIT;

CRC_TARGET static uint32_t register_after_zeros(uint32_t crc, size_t length) {
  for (size_t done = 0; done < length; done += 8) crc = step_word(crc, 0);
  return crc;
}

/*
 * The register update is linear over GF(2), so the shift of any x is the exclusive or of the
 * shifts of its set bits: 32 shifts computed with the instruction itself, then combined into
 * the table a byte at a time.
 */
CRC_TARGET static void build_shift_table(void) {
  uint32_t of_bit[32];
  for (int bit = 0; bit < 32; bit++) of_bit[bit] = register_after_zeros(1u << bit, LANE_BYTES);
  for (int position = 0; position < 4; position++) {
    for (int value = 0; value < 256; value++) {
      uint32_t shifted = 0;
      for (int bit = 0; bit < 8; bit++) {
        if (value & (1 << bit)) shifted ^= of_bit[8 * position + bit];
      }
      shift_table[position][value] = shifted;
    }
  }
}

static inline uint32_t shift_lane(uint32_t crc) {
  return shift_table[0][crc & 0xff] ^ shift_table[1][(crc >> 8) & 0xff] ^
         shift_table[2][(crc >> 16) & 0xff] ^ shift_table[3][crc >> 24];
}

/* The raw register (no conditioning) after `length` bytes from `crc`. */
CRC_TARGET static uint32_t checksum_raw(uint32_t crc, const uint8_t *bytes, size_t length) {
  if (length >= 3 * LANE_BYTES) {
    /* Worker threads may load the module too: the table is built once, before any use. */
    pthread_once(&shift_table_once, build_shift_table);
    while (length >= 3 * LANE_BYTES) {
      uint32_t first = crc;
      uint32_t second = 0;
      uint32_t third = 0;
      for (size_t at = 0; at < LANE_BYTES; at += 8) {
        first = step_word(first, load_word(bytes + at));
        second = step_word(second, load_word(bytes + LANE_BYTES + at));
        third = step_word(third, load_word(bytes + 2 * LANE_BYTES + at));
      }
      crc = shift_lane(shift_lane(first) ^ second) ^ third;
      bytes += 3 * LANE_BYTES;
      length -= 3 * LANE_BYTES;
    }
  }
  while (length >= 8) {
    crc = step_word(crc, load_word(bytes));
    bytes += 8;
    length -= 8;
  }
  while (length > 0) {
    crc = step_byte(crc, *bytes);
    bytes++;
    length--;
  }
  return crc;
}

/*
 * crc32c(bytes: Uint8Array, previous: number): the checksum of `bytes` continuing one whose
 * value so far is `previous` (0 to start), as `@node-rs/crc32`'s `crc32c` counts.
 */
static napi_value crc32c(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  uint8_t *bytes;
  size_t length;
  uint32_t previous;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 2 ||
      !bytes_of(env, argv[0], &bytes, &length) ||
      napi_get_value_uint32(env, argv[1], &previous) != napi_ok) {
    napi_throw_type_error(env, NULL, "crc32c(bytes, previous) takes a Uint8Array and a count");
    return NULL;
  }
  napi_value result;
  if (napi_create_uint32(env, ~checksum_raw(~previous, bytes, length), &result) != napi_ok)
    return NULL;
  return result;
}

#endif

static napi_value init(napi_env env, napi_value exports) {
  int present = 0;
#if CRC_HARDWARE
  present = hardware_present();
  if (present) {
    napi_value function;
    if (napi_create_function(env, "crc32c", NAPI_AUTO_LENGTH, crc32c, NULL, &function) !=
            napi_ok ||
        napi_set_named_property(env, exports, "crc32c", function) != napi_ok)
      return NULL;
  }
#endif
  napi_value available;
  if (napi_get_boolean(env, present != 0, &available) != napi_ok ||
      napi_set_named_property(env, exports, "available", available) != napi_ok)
    return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
