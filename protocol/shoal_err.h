/*  shoal_err.h - the one error enum of Shoal.

    The numbers are also the error codes carried on the wire (the "code"
    field of an ERROR reply), so
    they are never renumbered: new codes are appended.
*/
#ifndef SHOAL_ERR_H_INCLUDED
#define SHOAL_ERR_H_INCLUDED

#include <stddef.h>

typedef enum {
    SHOAL_OK = 0,
    SHOAL_ERR_MALFORMED = 1,    /* bytes do not follow the grammar */
    SHOAL_ERR_TOO_LARGE = 2,    /* a frame, string or count over a limit */
    SHOAL_ERR_VERSION = 3,      /* unsupported protocol major version */
    SHOAL_ERR_INTERRUPTED = 4,  /* a blocking call was interrupted */
    SHOAL_ERR_NOMEM = 5,        /* an allocation failed */
    SHOAL_ERR_INVALID = 6,      /* a well-formed request with a bad value */
    SHOAL_ERR_UNKNOWN_TYPE = 7, /* message type nobody handles */
    SHOAL_ERR_NOT_FOUND = 8,    /* no such job, queue or actor */
    SHOAL_ERR_UNREACHABLE = 9,  /* destination actor is not connected */
    SHOAL_ERR_TIMEOUT = 10,     /* a deadline passed */
    SHOAL_ERR_STORAGE = 11,     /* LMDB or the file system failed */
    SHOAL_ERR_MAP_FULL = 12,    /* the data file cannot grow any more */
    SHOAL_ERR_CORRUPT = 13,     /* a stored record failed its checksum */
    SHOAL_ERR_BUSY = 14,        /* overloaded or shutting down; retry */
    SHOAL_ERR_IO = 15,          /* a socket or system call failed */
    SHOAL_ERR_STATE = 16,       /* not allowed in the object's state */
    SHOAL_ERR_STALE = 17,       /* a result carried a stale lease epoch */
    SHOAL_ERR_CONFIG = 18,      /* a configuration value is wrong */
    SHOAL_ERR_HANDLER = 19,     /* a job handler failed */
    SHOAL_ERR__COUNT
} shoal_err_t;

/*  Returns a short, static, human description of err; never NULL.
    Unknown numbers give "unknown error". Thread safe. */
const char *shoal_strerror (int err);

/*  Returns the stable symbolic name ("MALFORMED", "NOT_FOUND"...) of err;
    never NULL. Used in JSON output and logs. */
const char *shoal_errname (int err);

/*  Writes a printf-style explanation into err (cap bytes; nothing when
    err is NULL or cap 0) and returns SHOAL_ERR_INVALID: the one line a
    parser needs to refuse input with a reason. */
__attribute__ ((format (printf, 3, 4))) shoal_err_t
shoal_err_setf (char *err, size_t cap, const char *fmt, ...);

#endif
