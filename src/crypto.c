#include "crypto.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

static EVP_MD *sha256;

int crypto_init(void)
{
    unsigned char seeded[1];
    if (OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG | OPENSSL_INIT_NO_LOAD_CRYPTO_STRINGS,
                            NULL) != 1)
        return -1;
    if (sha256 == NULL && (sha256 = EVP_MD_fetch(NULL, "SHA2-256", NULL)) == NULL)
        return -1;
    return RAND_bytes(seeded, sizeof(seeded)) == 1 ? 0 : -1;
}

const EVP_MD *crypto_sha256(void)
{
    return sha256 != NULL ? sha256 : EVP_sha256();
}

void crypto_free(void)
{
    EVP_MD_free(sha256);
    sha256 = NULL;
}
