/*  shoal_frame.c - header encode and strict, bounded decode.

    The header is small and fixed, so it is read with the hand-written
    reader field by field; the body is validated once here so that every
    actor may then look fields up without re-checking bounds.
*/
#include "shoal_frame.h"
#include "shoal_mp.h"

#include <string.h>

#define S_HDR_FIELDS 9

const char *
shoal_mtype_name (uint32_t type)
{
    switch (type) {
        case SHOAL_M_OK:
            return "OK";
        case SHOAL_M_ERROR:
            return "ERROR";
        case SHOAL_M_PING:
            return "PING";
        case SHOAL_M_SUBMIT:
            return "SUBMIT";
        case SHOAL_M_STATUS:
            return "STATUS";
        case SHOAL_M_WAIT:
            return "WAIT";
        case SHOAL_M_SHUTDOWN:
            return "SHUTDOWN";
        case SHOAL_M_STATS:
            return "STATS";
        case SHOAL_M_LIST:
            return "LIST";
        case SHOAL_M_DLQ:
            return "DLQ";
        case SHOAL_M_QUEUE:
            return "QUEUE";
        case SHOAL_M_BACKUP:
            return "BACKUP";
        case SHOAL_M_CANCEL:
            return "CANCEL";
        case SHOAL_M_SCHEDULE:
            return "SCHEDULE";
        case SHOAL_M_WORKFLOW:
            return "WORKFLOW";
        case SHOAL_M_BATCH:
            return "BATCH";
        case SHOAL_M_STORE_SUBMIT:
            return "STORE_SUBMIT";
        case SHOAL_M_STORE_ACKS:
            return "STORE_ACKS";
        case SHOAL_M_JOBS_READY:
            return "JOBS_READY";
        case SHOAL_M_LEASE:
            return "LEASE";
        case SHOAL_M_RUN:
            return "RUN";
        case SHOAL_M_RESULT:
            return "RESULT";
        case SHOAL_M_CREDIT:
            return "CREDIT";
        case SHOAL_M_FILL:
            return "FILL";
        case SHOAL_M_EVENT:
            return "EVENT";
        case SHOAL_M_QUERY:
            return "QUERY";
        case SHOAL_M_QUERY_REPLY:
            return "QUERY_REPLY";
        case SHOAL_M_LEASE_DONE:
            return "LEASE_DONE";
        case SHOAL_M_HEARTBEAT:
            return "HEARTBEAT";
        case SHOAL_M_NODE_BOOT:
            return "NODE_BOOT";
        case SHOAL_M_QUEUE_CONF:
            return "QUEUE_CONF";
        case SHOAL_M_RELEASE:
            return "RELEASE";
        case SHOAL_M_STARTED:
            return "STARTED";
        case SHOAL_M_EXTEND:
            return "EXTEND";
        case SHOAL_M_INTEREST:
            return "INTEREST";
        case SHOAL_M_ROUTE:
            return "ROUTE";
        case SHOAL_M_STEP:
            return "STEP";
        case SHOAL_M_GATE:
            return "GATE";
        case SHOAL_M_ADMIT:
            return "ADMIT";
        case SHOAL_M_ROUTER_BOOT:
            return "ROUTER_BOOT";
        case SHOAL_M_CLUSTER:
            return "CLUSTER";
        case SHOAL_M_LINK_HB:
            return "LINK_HB";
        case SHOAL_M_NODE_LOST:
            return "NODE_LOST";
        default:
            return "?";
    }
}

/*  Hand-written encoders for the fixed header layout: the header is on
    every message's path, and one pass over a stack of known fields costs
    a fifth of thirteen calls through the generic packer (bench/). The
    output is ordinary msgpack, smallest encoding first, as the packer's. */
static uint8_t *
s_put_uint (uint8_t *p, uint64_t v)
{
    if (v < 128) {
        *p++ = (uint8_t) v;
        return p;
    }
    int n = v <= 0xff ? 1 : v <= 0xffff ? 2 : v <= 0xffffffffu ? 4 : 8;
    *p++ = n == 1 ? 0xcc : n == 2 ? 0xcd : n == 4 ? 0xce : 0xcf;
    for (int i = n - 1; i >= 0; i--) {
        *p++ = (uint8_t) (v >> (8 * i));
    }
    return p;
}

static uint8_t *
s_put_name (uint8_t *p, const char *s, size_t n)
{
    /* names are at most SHOAL_NAME_MAX (64) bytes: fixstr or str8 */
    if (n < 32) {
        *p++ = (uint8_t) (0xa0 | n);
    } else {
        *p++ = 0xd9;
        *p++ = (uint8_t) n;
    }
    memcpy (p, s, n);
    return p + n;
}

static uint8_t *
s_put_id (uint8_t *p, const shoal_id_t *id)
{
    *p++ = 0xc4;
    *p++ = 16;
    memcpy (p, id->b, 16);
    return p + 16;
}

/*  2 (hlen) + 1 (array) + 9 (version, type) + 2 x 66 (names) + 2 x 18
    (ids) + 3 x 9 (ts, attempt, deadline) */
#define S_HDR_BYTES_MAX (2 + 1 + 9 + 2 * 66 + 2 * 18 + 3 * 9)

shoal_err_t
shoal_frame_begin (shoal_wr_t *wr, const shoal_hdr_t *hdr)
{
    size_t to_len = strnlen (hdr->to, sizeof hdr->to);
    size_t from_len = strnlen (hdr->from, sizeof hdr->from);
    if (to_len > SHOAL_NAME_MAX || from_len > SHOAL_NAME_MAX) {
        return SHOAL_ERR_TOO_LARGE;
    }
    shoal_wr_reset (wr);
    uint8_t *start = shoal_wr_reserve (wr, S_HDR_BYTES_MAX);
    if (!start) {
        return SHOAL_ERR_NOMEM;
    }
    uint8_t *p = start + 2;
    *p++ = 0x90 | S_HDR_FIELDS;
    p = s_put_uint (p, SHOAL_PROTO_VERSION);
    p = s_put_uint (p, hdr->type);
    p = s_put_name (p, hdr->to, to_len);
    p = s_put_name (p, hdr->from, from_len);
    p = s_put_id (p, &hdr->id);
    if (hdr->has_corr) {
        p = s_put_id (p, &hdr->corr);
    } else {
        *p++ = 0xc0;
    }
    p = s_put_uint (p, hdr->ts_us);
    p = s_put_uint (p, hdr->attempt);
    p = s_put_uint (p, hdr->deadline_us);
    size_t hlen = (size_t) (p - start) - 2;
    start[0] = (uint8_t) (hlen >> 8);
    start[1] = (uint8_t) hlen;
    shoal_wr_commit (wr, (size_t) (p - start));
    return SHOAL_OK;
}

shoal_err_t
shoal_frame_end (shoal_wr_t *wr, size_t frame_max)
{
    shoal_err_t rc = shoal_wr_error (wr);
    if (rc) {
        return rc;
    }
    return shoal_wr_size (wr) > frame_max ? SHOAL_ERR_TOO_LARGE : SHOAL_OK;
}

/*  Splits the frame and reads the version; shared by parse and peek. */
static shoal_err_t
s_open (const uint8_t *data, size_t size, shoal_rd_t *rd, uint32_t *fields,
        size_t *hlen_out)
{
    if (size < 2) {
        return SHOAL_ERR_MALFORMED;
    }
    size_t hlen = (size_t) data[0] << 8 | data[1];
    if (hlen == 0 || hlen > size - 2) {
        return SHOAL_ERR_MALFORMED;
    }
    if (hlen > SHOAL_HEADER_MAX) {
        return SHOAL_ERR_TOO_LARGE;
    }
    shoal_rd_init (rd, data + 2, hlen);
    shoal_err_t rc = shoal_rd_array (rd, fields);
    if (rc) {
        return SHOAL_ERR_MALFORMED;
    }
    uint64_t version;
    if (*fields < 1 || shoal_rd_uint (rd, &version) != SHOAL_OK) {
        return SHOAL_ERR_MALFORMED;
    }
    if (version != SHOAL_PROTO_VERSION) {
        return SHOAL_ERR_VERSION;
    }
    if (*fields < S_HDR_FIELDS) {
        return SHOAL_ERR_MALFORMED;
    }
    *hlen_out = hlen;
    return SHOAL_OK;
}

static shoal_err_t
s_name (shoal_rd_t *rd, char *out)
{
    const char *s;
    uint32_t len;
    shoal_err_t rc = shoal_rd_str (rd, &s, &len);
    if (rc) {
        return SHOAL_ERR_MALFORMED;
    }
    if (len > SHOAL_NAME_MAX) {
        return SHOAL_ERR_TOO_LARGE;
    }
    if (memchr (s, 0, len)) {
        return SHOAL_ERR_MALFORMED;
    }
    memcpy (out, s, len);
    out[len] = '\0';
    return SHOAL_OK;
}

static shoal_err_t
s_uint (shoal_rd_t *rd, uint64_t max, uint64_t *out)
{
    if (shoal_rd_uint (rd, out) != SHOAL_OK) {
        return SHOAL_ERR_MALFORMED;
    }
    return *out > max ? SHOAL_ERR_MALFORMED : SHOAL_OK;
}

static shoal_err_t
s_id (shoal_rd_t *rd, shoal_id_t *id, bool nil_ok, bool *present)
{
    shoal_mp_val_t v;
    if (shoal_rd_next (rd, &v) != SHOAL_OK) {
        return SHOAL_ERR_MALFORMED;
    }
    if (v.type == SHOAL_MP_NIL && nil_ok) {
        memset (id, 0, sizeof *id);
        *present = false;
        return SHOAL_OK;
    }
    if (v.type != SHOAL_MP_BIN || v.len != 16) {
        return SHOAL_ERR_MALFORMED;
    }
    memcpy (id->b, v.ptr, 16);
    *present = true;
    return SHOAL_OK;
}

shoal_err_t
shoal_frame_parse (const uint8_t *data, size_t size, const shoal_limits_t *lim,
                   shoal_hdr_t *hdr, const uint8_t **body, size_t *body_len)
{
    if (size > lim->frame_max) {
        return SHOAL_ERR_TOO_LARGE;
    }
    shoal_rd_t rd;
    uint32_t fields;
    size_t hlen;
    shoal_err_t rc = s_open (data, size, &rd, &fields, &hlen);
    if (rc) {
        return rc;
    }
    uint64_t u;
    bool present;
    hdr->version = SHOAL_PROTO_VERSION;
    if ((rc = s_uint (&rd, UINT32_MAX, &u))) {
        return rc;
    }
    hdr->type = (uint32_t) u;
    if ((rc = s_name (&rd, hdr->to)) || (rc = s_name (&rd, hdr->from))) {
        return rc;
    }
    if ((rc = s_id (&rd, &hdr->id, false, &present)) ||
        (rc = s_id (&rd, &hdr->corr, true, &hdr->has_corr))) {
        return rc;
    }
    if ((rc = s_uint (&rd, UINT64_MAX, &hdr->ts_us))) {
        return rc;
    }
    if ((rc = s_uint (&rd, UINT32_MAX, &u))) {
        return rc;
    }
    hdr->attempt = (uint32_t) u;
    if ((rc = s_uint (&rd, UINT64_MAX, &hdr->deadline_us))) {
        return rc;
    }
    for (uint32_t i = S_HDR_FIELDS; i < fields; i++) {
        if (shoal_rd_skip (&rd, 4) != SHOAL_OK) {
            return SHOAL_ERR_MALFORMED;
        }
    }
    if (shoal_rd_left (&rd) != 0) {
        return SHOAL_ERR_MALFORMED;
    }
    const uint8_t *b = data + 2 + hlen;
    size_t blen = size - 2 - hlen;
    size_t used;
    if (blen == 0 || *b == 0xc1) {
        return SHOAL_ERR_MALFORMED;
    }
    /* The body must be a map: check the first byte before walking. */
    uint8_t c = *b;
    if (!((c & 0xf0) == 0x80 || c == 0xde || c == 0xdf)) {
        return SHOAL_ERR_MALFORMED;
    }
    if ((rc = shoal_mp_validate (b, blen, lim, &used))) {
        return rc;
    }
    if (used != blen) {
        return SHOAL_ERR_MALFORMED;
    }
    *body = b;
    *body_len = blen;
    return SHOAL_OK;
}

shoal_err_t
shoal_frame_peek (const uint8_t *data, size_t size, uint32_t *type,
                  const char **to, uint32_t *to_len)
{
    shoal_rd_t rd;
    uint32_t fields;
    size_t hlen;
    shoal_err_t rc = s_open (data, size, &rd, &fields, &hlen);
    if (rc) {
        return rc;
    }
    uint64_t t;
    if (shoal_rd_uint (&rd, &t) != SHOAL_OK || t > UINT32_MAX) {
        return SHOAL_ERR_MALFORMED;
    }
    *type = (uint32_t) t;
    if (shoal_rd_str (&rd, to, to_len) != SHOAL_OK) {
        return SHOAL_ERR_MALFORMED;
    }
    return *to_len > SHOAL_NAME_MAX ? SHOAL_ERR_TOO_LARGE : SHOAL_OK;
}
