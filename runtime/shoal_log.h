/*  shoal_log.h - thin, printf-checked wrappers over zsys logging.

    zsys sends to stderr or syslog as configured by shoal_log_setup; CZMQ's
    default of stdout is never used, so stdout stays clean for the CLI.
*/
#ifndef SHOAL_LOG_H_INCLUDED
#define SHOAL_LOG_H_INCLUDED

#include <czmq.h>
#include <stdbool.h>

#define SHOAL_PRINTF(a, b) __attribute__ ((format (printf, a, b)))

/*  Routes zsys logs to syslog (true) or stderr, with ident as the program
    name. Call once from main before starting actors. */
void shoal_log_setup (const char *ident, bool use_syslog);

#define shoal_info(...)  zsys_info (__VA_ARGS__)
#define shoal_warn(...)  zsys_warning (__VA_ARGS__)
#define shoal_error(...) zsys_error (__VA_ARGS__)
#define shoal_debug(verbose, ...)                                              \
    do {                                                                       \
        if (verbose) {                                                         \
            zsys_debug (__VA_ARGS__);                                          \
        }                                                                      \
    } while (0)

/*  Compile-time printf checking for the zsys functions (CZMQ does not
    declare them with format attributes). */
void zsys_info (const char *format, ...) SHOAL_PRINTF (1, 2);
void zsys_warning (const char *format, ...) SHOAL_PRINTF (1, 2);
void zsys_error (const char *format, ...) SHOAL_PRINTF (1, 2);
void zsys_debug (const char *format, ...) SHOAL_PRINTF (1, 2);

#endif
