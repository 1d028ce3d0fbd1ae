/*  shoal_err.c - texts for shoal_err_t. Tables indexed by the code so a
    lookup is a bounds check and a load. */
#include "shoal_err.h"

#include <stdarg.h>
#include <stdio.h>

static const char *const s_text[SHOAL_ERR__COUNT] = {
    [SHOAL_OK] = "success",
    [SHOAL_ERR_MALFORMED] = "malformed message",
    [SHOAL_ERR_TOO_LARGE] = "message or field too large",
    [SHOAL_ERR_VERSION] = "unsupported protocol version",
    [SHOAL_ERR_INTERRUPTED] = "interrupted",
    [SHOAL_ERR_NOMEM] = "out of memory",
    [SHOAL_ERR_INVALID] = "invalid argument",
    [SHOAL_ERR_UNKNOWN_TYPE] = "unknown message type",
    [SHOAL_ERR_NOT_FOUND] = "not found",
    [SHOAL_ERR_UNREACHABLE] = "destination unreachable",
    [SHOAL_ERR_TIMEOUT] = "timed out",
    [SHOAL_ERR_STORAGE] = "storage failure",
    [SHOAL_ERR_MAP_FULL] = "storage full",
    [SHOAL_ERR_CORRUPT] = "stored record is corrupt",
    [SHOAL_ERR_BUSY] = "busy, try again",
    [SHOAL_ERR_IO] = "input/output error",
    [SHOAL_ERR_STATE] = "not allowed in current state",
    [SHOAL_ERR_STALE] = "stale lease epoch",
    [SHOAL_ERR_CONFIG] = "bad configuration",
    [SHOAL_ERR_HANDLER] = "job handler failed",
};

static const char *const s_name[SHOAL_ERR__COUNT] = {
    [SHOAL_OK] = "OK",
    [SHOAL_ERR_MALFORMED] = "MALFORMED",
    [SHOAL_ERR_TOO_LARGE] = "TOO_LARGE",
    [SHOAL_ERR_VERSION] = "VERSION",
    [SHOAL_ERR_INTERRUPTED] = "INTERRUPTED",
    [SHOAL_ERR_NOMEM] = "NOMEM",
    [SHOAL_ERR_INVALID] = "INVALID",
    [SHOAL_ERR_UNKNOWN_TYPE] = "UNKNOWN_TYPE",
    [SHOAL_ERR_NOT_FOUND] = "NOT_FOUND",
    [SHOAL_ERR_UNREACHABLE] = "UNREACHABLE",
    [SHOAL_ERR_TIMEOUT] = "TIMEOUT",
    [SHOAL_ERR_STORAGE] = "STORAGE",
    [SHOAL_ERR_MAP_FULL] = "MAP_FULL",
    [SHOAL_ERR_CORRUPT] = "CORRUPT",
    [SHOAL_ERR_BUSY] = "BUSY",
    [SHOAL_ERR_IO] = "IO",
    [SHOAL_ERR_STATE] = "STATE",
    [SHOAL_ERR_STALE] = "STALE",
    [SHOAL_ERR_CONFIG] = "CONFIG",
    [SHOAL_ERR_HANDLER] = "HANDLER",
};

const char *
shoal_strerror (int err)
{
    if (err < 0 || err >= SHOAL_ERR__COUNT || !s_text[err]) {
        return "unknown error";
    }
    return s_text[err];
}

const char *
shoal_errname (int err)
{
    if (err < 0 || err >= SHOAL_ERR__COUNT || !s_name[err]) {
        return "UNKNOWN";
    }
    return s_name[err];
}

shoal_err_t
shoal_err_setf (char *err, size_t cap, const char *fmt, ...)
{
    if (err && cap > 0) {
        va_list ap;
        va_start (ap, fmt);
        vsnprintf (err, cap, fmt, ap);
        va_end (ap);
    }
    return SHOAL_ERR_INVALID;
}
