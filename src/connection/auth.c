/*
 * connection/auth.c - CPython's authentication handshake, both forms.
 *
 * Design. This is deliver_challenge / answer_challenge of CPython's
 * Lib/multiprocessing/connection.py, byte for byte. Every step is one
 * frame; every frame we read is capped at 256 bytes (CPython's
 * recv_bytes(256)); the whole handshake has one deadline, so a peer that
 * stalls costs at most that long.
 *
 *   server (accept)                      client
 *   "#CHALLENGE#" + M  ------------->    M: "{sha256}" + 40 random bytes
 *                                        (3.11 and older: 20 random bytes)
 *                      <-------------    R = "{d}" + HMAC-d(key, M),
 *                                        or, for a 20-byte M, the bare
 *                                        16-byte HMAC-MD5(key, M)
 *   verify R; "#WELCOME#" or "#FAILURE#" ---->
 *   ... then the same again with the roles swapped (mutual).
 *
 * Parsing R or M (CPython's _get_digest_name_and_payload): 16 or 20 bytes
 * is the legacy form (HMAC-MD5, no prefix); anything else must start with
 * "{" and have "}" at index 2..9 around one of md5, sha256, sha384,
 * sha3_256, sha3_384. The MAC always covers the whole challenge, prefix
 * included, so a verifier that asked for sha256 cannot be downgraded.
 * A verifier accepts any allowed digest the response names, as CPython.
 *
 * HMAC comes from OpenSSL; the comparison is CRYPTO_memcmp (constant
 * time), after an equal-length check; challenge bytes from getrandom.
 * Secrets on the stack are wiped with OPENSSL_cleanse. No error path
 * formats a message, so the key can appear in none.
 */
#include "conn.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

#define CHALLENGE "#CHALLENGE#"
#define WELCOME "#WELCOME#"
#define FAILURE "#FAILURE#"
#define MESSAGE_LENGTH 40 /* random bytes of a modern challenge */
#define MD5ONLY_MESSAGE_LENGTH 20
#define MD5_DIGEST_LEN 16
#define MAX_DIGEST_NAME 8 /* strlen("sha3_256") */

static const struct {
    const char *name;
    const EVP_MD *(*md)(void);
} digests[] = {
    {"md5", EVP_md5},           {"sha256", EVP_sha256},
    {"sha384", EVP_sha384},     {"sha3_256", EVP_sha3_256},
    {"sha3_384", EVP_sha3_384},
};
#define NDIGESTS (sizeof digests / sizeof digests[0])

static const char legacy_name[] = "legacy";

const char *mproc__digest_known(const char *name)
{
    if (!name)
        return digests[1].name;
    if (strcmp(name, legacy_name) == 0)
        return legacy_name;
    for (size_t i = 0; i < NDIGESTS; i++)
        if (strcmp(name, digests[i].name) == 0)
            return digests[i].name;
    return NULL;
}

/* The digest named by the n bytes at s, or -1. */
static int digest_index(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < NDIGESTS; i++)
        if (strlen(digests[i].name) == n && memcmp(s, digests[i].name, n) == 0)
            return (int)i;
    return -1;
}

/*
 * CPython's _get_digest_name_and_payload: *d is the digest (-1 for the
 * legacy form) and *skip the length of the "{name}" prefix. Returns 0 or
 * MPROC_EAUTH.
 */
static int parse_digest(const unsigned char *m, size_t n, int *d, size_t *skip)
{
    if (n == MD5ONLY_MESSAGE_LENGTH || n == MD5_DIGEST_LEN) {
        *d = -1;
        *skip = 0;
        return 0;
    }
    if (n < 2 || m[0] != '{')
        return MPROC_EAUTH;
    /* message.find(b'}', 1, MAX_DIGEST_LEN + 2) */
    size_t end = n < MAX_DIGEST_NAME + 2 ? n : MAX_DIGEST_NAME + 2;
    for (size_t i = 1; i < end; i++) {
        if (m[i] == '}') {
            *d = digest_index(m + 1, i - 1);
            *skip = i + 1;
            return *d < 0 ? MPROC_EAUTH : 0;
        }
    }
    return MPROC_EAUTH;
}

/* HMAC of the digest index d (-1: md5) into out; returns its length, or 0
 * when the digest is unavailable (e.g. MD5 under FIPS). */
static unsigned mac(int d, const void *key, size_t keylen,
                    const unsigned char *msg, size_t n,
                    unsigned char out[EVP_MAX_MD_SIZE])
{
    static const unsigned char empty = 0;
    unsigned len = 0;
    const EVP_MD *md = digests[d < 0 ? 0 : d].md();
    if (!HMAC(md, keylen ? key : &empty, (int)keylen, msg, n, out, &len))
        return 0;
    return len;
}

static int send_str(mproc_conn *c, const char *s)
{
    return mproc_conn_send_bytes(c, s, strlen(s));
}

/* deliver_challenge: send a challenge, verify the answer, say so. */
static int deliver(mproc_conn *c, const void *key, size_t keylen,
                   const char *digest, int64_t deadline)
{
    unsigned char msg[CONN_HANDSHAKE_MAX], resp[CONN_HANDSHAKE_MAX];
    unsigned char want[EVP_MAX_MD_SIZE];
    size_t plen = sizeof CHALLENGE - 1, mlen, rlen;
    memcpy(msg, CHALLENGE, plen);
    unsigned char *m = msg + plen;
    size_t nrandom = MESSAGE_LENGTH;
    mlen = 0;
    if (digest == legacy_name)
        nrandom = MD5ONLY_MESSAGE_LENGTH;
    else
        mlen = (size_t)sprintf((char *)m, "{%s}", digest);
    int rc = mproc__random(m + mlen, nrandom);
    mlen += nrandom;
    if (rc == 0)
        rc = mproc_conn_send_bytes(c, msg, plen + mlen);
    if (rc == 0)
        rc = mproc__conn_recv_small(c, resp, sizeof resp, &rlen, deadline);
    if (rc < 0)
        return mproc__conn_fail(c, rc);
    int d;
    size_t skip;
    rc = parse_digest(resp, rlen, &d, &skip);
    if (rc == 0) {
        unsigned wlen = mac(d, key, keylen, m, mlen, want);
        if (wlen == 0 || wlen != rlen - skip ||
            CRYPTO_memcmp(want, resp + skip, wlen) != 0)
            rc = MPROC_EAUTH;
    }
    OPENSSL_cleanse(want, sizeof want);
    if (rc < 0) {
        send_str(c, FAILURE);
        return mproc__conn_fail(c, rc);
    }
    rc = send_str(c, WELCOME);
    return rc < 0 ? mproc__conn_fail(c, rc) : 0;
}

/* answer_challenge: answer a challenge, expect the welcome. */
static int answer(mproc_conn *c, const void *key, size_t keylen,
                  int64_t deadline)
{
    unsigned char msg[CONN_HANDSHAKE_MAX],
        resp[1 + MAX_DIGEST_NAME + 1 + EVP_MAX_MD_SIZE];
    size_t plen = sizeof CHALLENGE - 1, mlen, rlen = 0;
    int rc = mproc__conn_recv_small(c, msg, sizeof msg, &mlen, deadline);
    if (rc < 0)
        return rc;
    if (mlen < plen || memcmp(msg, CHALLENGE, plen) != 0 ||
        mlen - plen < MD5ONLY_MESSAGE_LENGTH)
        return mproc__conn_fail(c, MPROC_EAUTH);
    const unsigned char *m = msg + plen;
    mlen -= plen;
    int d;
    size_t skip;
    rc = parse_digest(m, mlen, &d, &skip);
    if (rc < 0)
        return mproc__conn_fail(c, rc);
    if (d >= 0) {
        rlen = (size_t)sprintf((char *)resp, "{%s}", digests[d].name);
    }
    /* The legacy form answers with the bare HMAC-MD5 (CPython falls back
     * to sha256 where MD5 is missing; so do we). */
    unsigned n = mac(d, key, keylen, m, mlen, resp + rlen);
    if (n == 0 && d < 0) {
        d = 1;
        rlen = (size_t)sprintf((char *)resp, "{%s}", digests[d].name);
        n = mac(d, key, keylen, m, mlen, resp + rlen);
    }
    if (n == 0)
        return mproc__conn_fail(c, MPROC_EAUTH);
    rc = mproc_conn_send_bytes(c, resp, rlen + n);
    OPENSSL_cleanse(resp, sizeof resp);
    if (rc < 0)
        return mproc__conn_fail(c, rc);
    rc = mproc__conn_recv_small(c, msg, sizeof msg, &mlen, deadline);
    if (rc < 0)
        return rc;
    if (mlen != sizeof WELCOME - 1 || memcmp(msg, WELCOME, mlen) != 0)
        return mproc__conn_fail(c, MPROC_EAUTH);
    return 0;
}

int mproc__auth_server(mproc_conn *c, const void *key, size_t keylen,
                       const char *digest, int64_t deadline)
{
    int rc = deliver(c, key, keylen, digest, deadline);
    if (rc == 0)
        rc = answer(c, key, keylen, deadline);
    return rc;
}

int mproc__auth_client(mproc_conn *c, const void *key, size_t keylen,
                       const char *digest, int64_t deadline)
{
    int rc = answer(c, key, keylen, deadline);
    if (rc == 0)
        rc = deliver(c, key, keylen, digest, deadline);
    return rc;
}
