/*  shoal_keygen.h - `shoal keygen`: a CURVE certificate pair on disk.

    shoal keygen DIR [--name NAME] [--force]
    writes DIR/NAME.key (the public certificate, to hand to the hosts that
    must accept this one) and DIR/NAME.key_secret (mode 0600; it never
    leaves this host), with CZMQ's zcert, and prints the public key (Z85)
    and both paths. NAME defaults to the host name. An existing pair is
    kept unless --force. Local: no daemon is asked.
*/
#ifndef SHOAL_KEYGEN_H_INCLUDED
#define SHOAL_KEYGEN_H_INCLUDED

/*  argv[0] is "keygen". Returns the exit status: 0, 1 (files: exists,
    cannot write), 2 (usage). */
int shoal_keygen_main (int argc, char **argv);

#endif
