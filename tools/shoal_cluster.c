/*  shoal_cluster.c - the cluster table for people and programs. */
#include "shoal_cluster.h"
#include "shoal_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_int_t
s_int (const json_t *o, const char *key)
{
    return json_integer_value (json_object_get (o, key));
}

static const char *
s_str (const json_t *o, const char *key)
{
    const char *s = json_string_value (json_object_get (o, key));
    return s ? s : "";
}

/*  Load: leases in flight over capacity, in percent. */
static void
s_load (const json_t *o, char *out, size_t cap)
{
    json_int_t slots = s_int (o, "capacity");
    if (slots <= 0) {
        snprintf (out, cap, "-");
    } else {
        snprintf (out, cap, "%.0f%%",
                  100.0 * (double) s_int (o, "inflight") / (double) slots);
    }
}

static void
s_age (const json_t *o, char *out, size_t cap)
{
    json_t *v = json_object_get (o, "beat_age_ms");
    if (!v) {
        snprintf (out, cap, "-");
    } else if (json_integer_value (v) < 10000) {
        snprintf (out, cap, "%lldms", (long long) json_integer_value (v));
    } else {
        snprintf (out, cap, "%llds", (long long) json_integer_value (v) / 1000);
    }
}

/*  The entry of this host itself, in the shape of a peer's. */
static json_t *
s_self_entry (const json_t *all)
{
    json_t *local = json_object_get (all, "local");
    json_t *e = json_object ();
    if (!e) {
        return NULL;
    }
    json_object_set_new (e, "name", json_string (s_str (all, "name")));
    json_object_set_new (e, "kind", json_string ("host"));
    json_object_set_new (e, "role", json_string (s_str (all, "role")));
    json_object_set_new (e, "state", json_string ("alive"));
    const char *keys[] = {"executors", "capacity", "inflight", "cores",
                          "memory_mb"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        json_object_set_new (e, keys[i], json_integer (s_int (local, keys[i])));
    }
    json_object_set_new (e, "version", json_string (s_str (local, "version")));
    json_object_set_new (e, "bind", json_string (s_str (all, "bind")));
    /* The registry's counters: peers lost and back, frames refused or
       malformed, RUNs handed back (JSON only). */
    json_t *counters = json_object_get (all, "counters");
    if (json_is_object (counters)) {
        json_object_set (e, "counters", counters);
    }
    return e;
}

int
shoal_cluster_print (const uint8_t *body, size_t len, bool workers,
                     bool as_json)
{
    shoal_limits_t lim = shoal_limits_default ();
    json_t *all = shoal_mp_to_json (body, len, &lim, NULL);
    json_t *peers = all ? json_object_get (all, "peers") : NULL;
    json_t *rows = json_array ();
    if (!json_is_array (peers) || !rows) {
        fprintf (stderr, "shoal: unreadable cluster table\n");
        json_decref (all);
        json_decref (rows);
        return 1;
    }
    if (!workers) {
        json_array_append_new (rows, s_self_entry (all));
    }
    size_t i;
    json_t *p;
    json_array_foreach (peers, i, p)
    {
        bool is_worker = strcmp (s_str (p, "kind"), "worker") == 0;
        if (is_worker == workers) {
            if (!workers) {
                json_object_set_new (p, "role", json_string ("member"));
            }
            json_array_append (rows, p);
        }
    }
    if (as_json) {
        char *s = json_dumps (rows, JSON_COMPACT);
        if (s) {
            puts (s);
            free (s);
        }
    } else {
        printf ("%-20s %-7s %-6s %5s %6s %8s %5s %7s %5s %8s %-8s %s\n", "NAME",
                workers ? "KIND" : "ROLE", "STATE", "EXEC", "CAP", "INFLIGHT",
                "LOAD", "BEAT", "CORES", "MEMORY", "VERSION", "LABELS");
        json_array_foreach (rows, i, p)
        {
            char load[16], age[24], mem[24];
            s_load (p, load, sizeof load);
            s_age (p, age, sizeof age);
            json_int_t mb = s_int (p, "memory_mb");
            if (mb > 0) {
                snprintf (mem, sizeof mem, "%lldMB", (long long) mb);
            } else {
                snprintf (mem, sizeof mem, "-");
            }
            printf ("%-20s %-7s %-6s %5lld %6lld %8lld %5s %7s %5lld %8s "
                    "%-8s %s\n",
                    s_str (p, "name"),
                    workers ? s_str (p, "kind") : s_str (p, "role"),
                    s_str (p, "state"), (long long) s_int (p, "executors"),
                    (long long) s_int (p, "capacity"),
                    (long long) s_int (p, "inflight"), load, age,
                    (long long) s_int (p, "cores"), mem,
                    s_str (p, "version")[0] ? s_str (p, "version") : "-",
                    s_str (p, "labels"));
        }
        if (json_array_size (rows) == 0) {
            printf ("(no %s joined %s)\n", workers ? "workers" : "hosts",
                    s_str (all, "name"));
        }
    }
    json_decref (rows);
    json_decref (all);
    return 0;
}
