/*  wf_helpers.h - what the workflow definition tests share: definitions
    written with ' for " so they stay readable, parsed with one call. */
#ifndef WF_HELPERS_H_INCLUDED
#define WF_HELPERS_H_INCLUDED

#include "shoal_test.h"
#include "shoal_wf.h"

/*  The text with every ' turned into "; a new string (free it). */
static inline char *
wf_q (const char *text)
{
    char *s = strdup (text);
    if (!s) {
        abort ();
    }
    for (char *p = s; *p; p++) {
        if (*p == '\'') {
            *p = '"';
        }
    }
    return s;
}

/*  Parses text (quoted with ') as file "t.json" with types; returns the
    error code and leaves the text in err (SHOAL_WF_ERR_MAX bytes). */
static inline shoal_err_t
wf_try (const char *text, const char *const *types, shoal_wf_t **out, char *err)
{
    char *json = wf_q (text);
    shoal_wf_t *wf = NULL;
    err[0] = '\0';
    shoal_err_t rc = shoal_wf_parse (json, strlen (json), "t.json", types, &wf,
                                     err, SHOAL_WF_ERR_MAX);
    free (json);
    if (out) {
        *out = wf;
    } else {
        shoal_wf_destroy (&wf);
    }
    return rc;
}

/*  A definition that must parse; aborts with the error otherwise. */
static inline shoal_wf_t *
wf_ok (const char *text)
{
    char err[SHOAL_WF_ERR_MAX];
    shoal_wf_t *wf = NULL;
    if (wf_try (text, NULL, &wf, err) != SHOAL_OK) {
        fprintf (stderr, "  parse failed: %s\n", err);
        abort ();
    }
    return wf;
}

/*  The error text for a definition that must fail with rc; "" (and a
    note on stderr) when it does not. Static: valid until the next call. */
static inline const char *
wf_err (const char *text, shoal_err_t rc)
{
    static char err[SHOAL_WF_ERR_MAX];
    shoal_err_t got = wf_try (text, NULL, NULL, err);
    if (got != rc) {
        fprintf (stderr, "  got %s (%s), want %s\n", shoal_errname (got), err,
                 shoal_errname (rc));
        err[0] = '\0';
    }
    return err;
}

/*  Wraps nodes and edges (JSON array bodies, with ') into a definition. */
#define WF(nodes, edges)                                                       \
    "{'name': 'w', 'nodes': [" nodes "], 'edges': [" edges "]}"

#endif
