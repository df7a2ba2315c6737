/*
 * AEAD sealing for Cartridge's record pipeline, through the OpenSSL that Node itself is built
 * with (its headers ship with Node and its symbols are exported to addons): the same
 * AES-256-GCM and ChaCha20-Poly1305, byte for byte, as node:crypto, without what node:crypto
 * costs around the cipher for every record. node:crypto creates a cipher context per record
 * (the key schedule included), allocates each output zero-filled, and copies it once more into
 * a buffer of the exact length. Here a context is made once per key and reused with a fresh
 * nonce, and the cipher writes straight into memory the caller owns.
 *
 * Contexts belong to the JavaScript object that holds them and are freed with it; the module
 * keeps no global state, so it is safe in worker threads. Every length and offset is checked
 * before a byte is touched: a bad argument is a TypeError or RangeError, never a write out of
 * bounds.
 */
#include <node_api.h>
#include "napi-bytes.h"
#include <openssl/evp.h>
#include <string.h>

#define KEY_BYTES 32
#define NONCE_BYTES 12
#define TAG_BYTES 16
#define CHUNK_MAX_BYTES 0x40000000u /* EVP updates take an int: seal in pieces of 1 GiB at most */

typedef struct {
  EVP_CIPHER_CTX *seal;
  EVP_CIPHER_CTX *open;
  int chacha;
} Contexts;

static napi_value fail(napi_env env, const char *code, const char *message) {
  napi_throw_error(env, code, message);
  return NULL;
}

static void free_contexts(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  Contexts *contexts = (Contexts *)data;
  if (contexts->seal != NULL) EVP_CIPHER_CTX_free(contexts->seal);
  if (contexts->open != NULL) EVP_CIPHER_CTX_free(contexts->open);
  free(contexts);
}

/* createContexts(cipher: 'aes-256-gcm' | 'chacha20-poly1305', key: Uint8Array(32)) → external */
static napi_value create_contexts(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 2) return fail(env, "ERR_INVALID_ARG_COUNT", "createContexts takes 2 arguments");
  char name[32];
  size_t name_length = 0;
  if (napi_get_value_string_utf8(env, argv[0], name, sizeof name, &name_length) != napi_ok)
    return fail(env, "ERR_INVALID_ARG_TYPE", "the cipher must be a string");
  const EVP_CIPHER *cipher = NULL;
  int chacha = 0;
  if (strcmp(name, "aes-256-gcm") == 0) {
    cipher = EVP_aes_256_gcm();
  } else if (strcmp(name, "chacha20-poly1305") == 0) {
    cipher = EVP_chacha20_poly1305();
    chacha = 1;
  } else {
    return fail(env, "ERR_INVALID_ARG_VALUE", "unknown cipher");
  }
  unsigned char *key;
  size_t key_length;
  if (!bytes_of(env, argv[1], &key, &key_length) || key_length != KEY_BYTES)
    return fail(env, "ERR_INVALID_ARG_VALUE", "the key must be 32 bytes");
  Contexts *contexts = (Contexts *)calloc(1, sizeof(Contexts));
  if (contexts == NULL) return fail(env, "ERR_MEMORY", "out of memory");
  contexts->chacha = chacha;
  contexts->seal = EVP_CIPHER_CTX_new();
  contexts->open = EVP_CIPHER_CTX_new();
  if (contexts->seal == NULL || contexts->open == NULL ||
      EVP_EncryptInit_ex(contexts->seal, cipher, NULL, key, NULL) != 1 ||
      EVP_DecryptInit_ex(contexts->open, cipher, NULL, key, NULL) != 1) {
    free_contexts(env, contexts, NULL);
    return fail(env, "ERR_CRYPTO_OPERATION_FAILED", "the cipher context could not be made");
  }
  napi_value external;
  if (napi_create_external(env, contexts, free_contexts, NULL, &external) != napi_ok) {
    free_contexts(env, contexts, NULL);
    return fail(env, "ERR_MEMORY", "out of memory");
  }
  return external;
}

typedef struct {
  Contexts *contexts;
  unsigned char *nonce, *associated, *input, *target;
  size_t associated_length, input_length, target_length, offset;
} Call;

/* (contexts, nonce, associatedData, input, target, targetOffset): the shared argument checks. */
static int call_of(napi_env env, napi_callback_info info, Call *call) {
  size_t argc = 6;
  napi_value argv[6];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 6) {
    napi_throw_error(env, "ERR_INVALID_ARG_COUNT", "expected 6 arguments");
    return 0;
  }
  void *contexts;
  if (napi_get_value_external(env, argv[0], &contexts) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "expected cipher contexts");
    return 0;
  }
  call->contexts = (Contexts *)contexts;
  size_t nonce_length;
  if (!bytes_of(env, argv[1], &call->nonce, &nonce_length) || nonce_length != NONCE_BYTES ||
      !bytes_of(env, argv[2], &call->associated, &call->associated_length) ||
      !bytes_of(env, argv[3], &call->input, &call->input_length) ||
      !bytes_of(env, argv[4], &call->target, &call->target_length)) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "expected a 12-byte nonce and Uint8Arrays");
    return 0;
  }
  int64_t offset;
  if (napi_get_value_int64(env, argv[5], &offset) != napi_ok || offset < 0) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "the target offset must be >= 0");
    return 0;
  }
  call->offset = (size_t)offset;
  if (call->associated_length > CHUNK_MAX_BYTES) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "the associated data is too long");
    return 0;
  }
  return 1;
}

static int update_in_pieces(EVP_CIPHER_CTX *context, int seal, unsigned char *target,
                            const unsigned char *input, size_t length) {
  size_t done = 0;
  while (done < length) {
    size_t piece = length - done;
    if (piece > CHUNK_MAX_BYTES) piece = CHUNK_MAX_BYTES;
    int written = 0;
    int ok = seal ? EVP_EncryptUpdate(context, target + done, &written, input + done, (int)piece)
                  : EVP_DecryptUpdate(context, target + done, &written, input + done, (int)piece);
    /* Both AEADs are stream ciphers: every byte in gives a byte out at once. */
    if (ok != 1 || (size_t)written != piece) return 0;
    done += piece;
  }
  return 1;
}

/*
 * seal(contexts, nonce, associatedData, plaintext, target, offset): writes the ciphertext,
 * then the 16-byte tag, at target[offset...]. Returns the bytes written.
 */
static napi_value seal(napi_env env, napi_callback_info info) {
  Call call;
  if (!call_of(env, info, &call)) return NULL;
  if (call.offset > call.target_length ||
      call.target_length - call.offset < call.input_length + TAG_BYTES)
    return fail(env, "ERR_OUT_OF_RANGE", "the target is too short for ciphertext and tag");
  EVP_CIPHER_CTX *context = call.contexts->seal;
  unsigned char *out = call.target + call.offset;
  int written = 0;
  if (EVP_EncryptInit_ex(context, NULL, NULL, NULL, call.nonce) != 1 ||
      (call.associated_length > 0 &&
       EVP_EncryptUpdate(context, NULL, &written, call.associated, (int)call.associated_length) != 1) ||
      !update_in_pieces(context, 1, out, call.input, call.input_length) ||
      EVP_EncryptFinal_ex(context, out + call.input_length, &written) != 1 || written != 0 ||
      EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_AEAD_GET_TAG, TAG_BYTES, out + call.input_length) != 1)
    return fail(env, "ERR_CRYPTO_OPERATION_FAILED", "sealing failed");
  napi_value result;
  napi_create_int64(env, (int64_t)(call.input_length + TAG_BYTES), &result);
  return result;
}

/*
 * open(contexts, nonce, associatedData, sealed, target, offset): `sealed` is ciphertext then
 * tag. Writes the plaintext at target[offset...] and returns true when the tag checks out;
 * otherwise returns false and zeroes what it wrote, so no unauthenticated byte stays behind.
 */
static napi_value open_sealed(napi_env env, napi_callback_info info) {
  Call call;
  if (!call_of(env, info, &call)) return NULL;
  if (call.input_length < TAG_BYTES)
    return fail(env, "ERR_OUT_OF_RANGE", "the sealed bytes are shorter than a tag");
  size_t length = call.input_length - TAG_BYTES;
  if (call.offset > call.target_length || call.target_length - call.offset < length)
    return fail(env, "ERR_OUT_OF_RANGE", "the target is too short for the plaintext");
  EVP_CIPHER_CTX *context = call.contexts->open;
  unsigned char *out = call.target + call.offset;
  unsigned char tag[TAG_BYTES];
  memcpy(tag, call.input + length, TAG_BYTES);
  int written = 0;
  int ok = EVP_DecryptInit_ex(context, NULL, NULL, NULL, call.nonce) == 1 &&
           (call.associated_length == 0 ||
            EVP_DecryptUpdate(context, NULL, &written, call.associated,
                              (int)call.associated_length) == 1) &&
           update_in_pieces(context, 0, out, call.input, length) &&
           EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_AEAD_SET_TAG, TAG_BYTES, tag) == 1 &&
           EVP_DecryptFinal_ex(context, out + length, &written) == 1 && written == 0;
  if (!ok) memset(out, 0, length);
  napi_value result;
  napi_get_boolean(env, ok ? true : false, &result);
  return result;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor properties[] = {
    {"createContexts", NULL, create_contexts, NULL, NULL, NULL, napi_enumerable, NULL},
    {"seal", NULL, seal, NULL, NULL, NULL, napi_enumerable, NULL},
    {"open", NULL, open_sealed, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof properties / sizeof properties[0], properties);
  return exports;
}
