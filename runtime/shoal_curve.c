/*  shoal_curve.c - CURVE server and client setup (see shoal_curve.h). */
#include "shoal_curve.h"
#include "shoal_log.h"

#include <string.h>

/*  A DRAFT option in libzmq 4.3 (set only where supported: checked). */
#ifndef ZMQ_ZAP_ENFORCE_DOMAIN
#define ZMQ_ZAP_ENFORCE_DOMAIN 93
#endif

#define S_NO_SECRET "0000000000000000000000000000000000000000"

zcert_t *
shoal_curve_load_secret (const char *cert_path)
{
    zcert_t *cert = cert_path && cert_path[0] ? zcert_load (cert_path) : NULL;
    if (cert && streq (zcert_secret_txt (cert), S_NO_SECRET)) {
        zcert_destroy (&cert);
    }
    return cert;
}

shoal_err_t
shoal_curve_server (zsock_t *sock, const char *cert_path, const char *who)
{
    zcert_t *cert = shoal_curve_load_secret (cert_path);
    if (!cert) {
        shoal_error ("%s: %s is not a secret certificate (shoal keygen "
                     "writes NAME.key_secret)",
                     who, cert_path);
        return SHOAL_ERR_CONFIG;
    }
    zcert_apply (cert, sock);
    zcert_destroy (&cert);
    zsock_set_curve_server (sock, 1);
    zsock_set_zap_domain (sock, "shoal");
    /* Without this, no ZAP handler means everyone gets in. */
    int one = 1;
    if (zmq_setsockopt (zsock_resolve (sock), ZMQ_ZAP_ENFORCE_DOMAIN, &one,
                        sizeof one)) {
        shoal_error ("%s: this libzmq cannot enforce ZAP: %s", who,
                     zmq_strerror (zmq_errno ()));
        return SHOAL_ERR_CONFIG;
    }
    return SHOAL_OK;
}

shoal_err_t
shoal_curve_public_key (const char *spec, char out[41])
{
    out[0] = '\0';
    if (!spec || !spec[0]) {
        return SHOAL_ERR_INVALID;
    }
    if (strlen (spec) == 40) {
        memcpy (out, spec, 41);
        return SHOAL_OK;
    }
    zcert_t *cert = zcert_load (spec);
    if (cert) {
        snprintf (out, 41, "%s", zcert_public_txt (cert));
        zcert_destroy (&cert);
    }
    return strlen (out) == 40 ? SHOAL_OK : SHOAL_ERR_INVALID;
}

shoal_err_t
shoal_curve_client (zsock_t *sock, const char *cert_path,
                    const char *server_key, const char *who)
{
    zcert_t *cert = shoal_curve_load_secret (cert_path);
    if (!cert) {
        shoal_error ("%s: %s is not a secret certificate (shoal keygen "
                     "writes NAME.key_secret)",
                     who, cert_path ? cert_path : "");
        return SHOAL_ERR_CONFIG;
    }
    char key[41];
    if (shoal_curve_public_key (server_key, key)) {
        shoal_error ("%s: server key '%s' is neither a 40 character Z85 key "
                     "nor a certificate file",
                     who, server_key ? server_key : "");
        zcert_destroy (&cert);
        return SHOAL_ERR_CONFIG;
    }
    zcert_apply (cert, sock);
    zcert_destroy (&cert);
    zsock_set_curve_serverkey (sock, key);
    return SHOAL_OK;
}
