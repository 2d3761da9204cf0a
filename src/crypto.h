/* OpenSSL as the worker uses it: SHA-256 and random bytes, nothing else of the library. */
#ifndef LEADLISTS_CRYPTO_H
#define LEADLISTS_CRYPTO_H

#include <openssl/evp.h>

/* Sets OpenSSL up for a long-running worker, before anything else touches it (libmariadb
 * does, when it starts): without the system's openssl.cnf and the error strings, which
 * neither SHA-256 nor the random generator needs and each worker would otherwise hold a
 * private copy of; with SHA-256 fetched once rather than looked up on every digest; and with
 * the random generator seeded now rather than by the first request. 0 on success. */
int crypto_init(void);

/* SHA-256: the one crypto_init fetched, or OpenSSL's default before it (tools, tests). */
const EVP_MD *crypto_sha256(void);

void crypto_free(void);

#endif
