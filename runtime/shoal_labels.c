/*  shoal_labels.c - label names and canonical comma lists of them. */
#include "shoal_labels.h"
#include "../protocol/shoal_mp.h"

#include <stdio.h>
#include <string.h>

bool
shoal_label_valid (const char *label, size_t len)
{
    if (len == 0 || len > SHOAL_LABEL_MAX) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        char c = label[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
        if (!ok) {
            return false;
        }
    }
    return true;
}

const char *
shoal_labels_next (const char *list, size_t len, size_t *pos, size_t *label_len)
{
    if (*pos >= len) {
        return NULL;
    }
    const char *start = list + *pos;
    const char *comma = memchr (start, ',', len - *pos);
    size_t n = comma ? (size_t) (comma - start) : len - *pos;
    *label_len = n;
    *pos += n + 1; /* past the comma (or the end) */
    return start;
}

bool
shoal_labels_has (const char *list, size_t len, const char *label,
                  size_t label_len)
{
    size_t pos = 0, n;
    for (const char *l; (l = shoal_labels_next (list, len, &pos, &n));) {
        if (n == label_len && memcmp (l, label, n) == 0) {
            return true;
        }
    }
    return false;
}

shoal_err_t
shoal_labels_add (char *list, size_t cap, const char *label, size_t len,
                  size_t max)
{
    if (!shoal_label_valid (label, len)) {
        return SHOAL_ERR_INVALID;
    }
    size_t used = strlen (list);
    if (shoal_labels_has (list, used, label, len)) {
        return SHOAL_OK;
    }
    size_t count = used ? 1 : 0;
    for (size_t i = 0; i < used; i++) {
        count += list[i] == ',';
    }
    size_t need = used + (used ? 1 : 0) + len + 1;
    if (count + 1 > max || need > cap) {
        return SHOAL_ERR_TOO_LARGE;
    }
    if (used) {
        list[used++] = ',';
    }
    memcpy (list + used, label, len);
    list[used + len] = '\0';
    return SHOAL_OK;
}

static bool
s_blank (char c)
{
    return c == ' ' || c == '\t';
}

shoal_err_t
shoal_labels_parse (const char *text, size_t max, char *out, size_t cap,
                    char *why, size_t why_cap)
{
    char list[SHOAL_LABELS_TEXT_MAX + SHOAL_LABEL_MAX + 2] = "";
    size_t len = strlen (text);
    size_t start = 0;
    while (start < len && s_blank (text[start])) {
        start++;
    }
    if (start == len) {
        if (cap == 0) {
            return SHOAL_ERR_TOO_LARGE;
        }
        out[0] = '\0';
        return SHOAL_OK;
    }
    size_t pos = 0, n;
    for (const char *l; (l = shoal_labels_next (text, len, &pos, &n));) {
        while (n > 0 && s_blank (*l)) {
            l++;
            n--;
        }
        while (n > 0 && s_blank (l[n - 1])) {
            n--;
        }
        shoal_err_t rc = shoal_labels_add (list, sizeof list, l, n, max);
        if (rc == SHOAL_ERR_INVALID) {
            if (why) {
                snprintf (why, why_cap,
                          "label \"%.*s\": use 1-%d characters of A-Z a-z "
                          "0-9 . _ -",
                          (int) (n > 40 ? 40 : n), l, SHOAL_LABEL_MAX);
            }
            return rc;
        }
        if (rc) {
            if (why) {
                snprintf (why, why_cap, "at most %zu labels", max);
            }
            return rc;
        }
    }
    if (len > 0 && text[len - 1] == ',') {
        if (why) {
            snprintf (why, why_cap, "an empty label (a comma at the end)");
        }
        return SHOAL_ERR_INVALID;
    }
    size_t used = strlen (list);
    if (used + 1 > cap) {
        if (why) {
            snprintf (why, why_cap, "labels too long");
        }
        return SHOAL_ERR_TOO_LARGE;
    }
    memcpy (out, list, used + 1);
    return SHOAL_OK;
}

shoal_err_t
shoal_labels_from_map (const uint8_t *map, size_t size, const char *key,
                       size_t max, char *out, size_t cap)
{
    if (cap == 0) {
        return SHOAL_ERR_TOO_LARGE;
    }
    out[0] = '\0';
    shoal_rd_t rd;
    uint32_t n;
    shoal_err_t rc = shoal_map_array (map, size, key, &rd, &n);
    if (rc) {
        return rc == SHOAL_ERR_NOT_FOUND ? rc : SHOAL_ERR_INVALID;
    }
    if (n > max) {
        return SHOAL_ERR_TOO_LARGE;
    }
    for (uint32_t i = 0; i < n; i++) {
        const char *label;
        uint32_t len;
        if (shoal_rd_str (&rd, &label, &len)) {
            out[0] = '\0';
            return SHOAL_ERR_INVALID;
        }
        if ((rc = shoal_labels_add (out, cap, label, len, max))) {
            out[0] = '\0';
            return rc;
        }
    }
    return SHOAL_OK;
}

void
shoal_labels_write (shoal_wr_t *w, const char *list)
{
    size_t len = strlen (list), pos = 0, n;
    uint32_t count = 0;
    while (shoal_labels_next (list, len, &pos, &n)) {
        count++;
    }
    shoal_wr_array (w, count);
    pos = 0;
    for (const char *l; (l = shoal_labels_next (list, len, &pos, &n));) {
        shoal_wr_strn (w, l, n);
    }
}
