/*  shoal_curve.h - CURVE security on a socket, the same way everywhere.

    A server socket (control endpoint, link endpoint) takes a secret
    certificate, turns CURVE on, and enforces ZAP: the process must run a
    zauth actor ("CURVE", allowlist folder) or nobody gets in - it fails
    closed. A client socket takes its own secret certificate and the
    server's public key.

    Keys are given as a certificate file (`shoal keygen` writes NAME.key,
    public, and NAME.key_secret) or, for a server's public key, as its 40
    character Z85 text.
*/
#ifndef SHOAL_CURVE_H_INCLUDED
#define SHOAL_CURVE_H_INCLUDED

#include <czmq.h>

#include "../protocol/shoal_err.h"

/*  Makes sock a CURVE server with the secret certificate at cert_path
    and ZAP enforced (domain "shoal"). Call before bind. CONFIG (logged,
    with who) if the file is not a secret certificate or this libzmq
    cannot enforce ZAP. */
shoal_err_t shoal_curve_server (zsock_t *sock, const char *cert_path,
                                const char *who);

/*  Makes sock a CURVE client: its own secret certificate at cert_path,
    the server's public key spec (Z85 text or a certificate file). Call
    before connect. CONFIG (logged) on a bad certificate or key. */
shoal_err_t shoal_curve_client (zsock_t *sock, const char *cert_path,
                                const char *server_key, const char *who);

/*  The public key (40 Z85 characters and a NUL in out) of spec: Z85
    text as is, or the public key of a certificate file. INVALID if it is
    neither. */
shoal_err_t shoal_curve_public_key (const char *spec, char out[41]);

/*  Loads a secret certificate; NULL if the file is missing or holds no
    secret key. The caller owns the result (zcert_destroy). */
zcert_t *shoal_curve_load_secret (const char *cert_path);

#endif
