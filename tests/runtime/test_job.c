/*  test_job.c - the job record codec, names, priorities and ready keys. */
#include "shoal_test.h"
#include "shoal_job.h"

static shoal_limits_t
s_lim (void)
{
    return shoal_limits_default ();
}

/*  A job with every field set to a distinct value, payload and result
    borrowed from pl/res (msgpack written here). */
static void
s_full_job (shoal_job_t *job, shoal_wr_t *pl, shoal_wr_t *res)
{
    memset (job, 0, sizeof *job);
    for (int i = 0; i < 16; i++) {
        job->id.b[i] = (uint8_t) (0xa0 + i);
    }
    snprintf (job->queue, sizeof job->queue, "emails.high");
    snprintf (job->type, sizeof job->type, "send:mail-v2");
    snprintf (job->executor, sizeof job->executor, "node.3");
    job->priority = SHOAL_PRIO_HIGH;
    job->state = SHOAL_JOB_LEASED;
    job->attempt = 70000;
    job->epoch = ((uint64_t) 1 << 40) + 5;
    job->seq = ((uint64_t) 1 << 50) + 7;
    job->created_us = 1700000000000001ull;
    job->updated_us = 1700000000000002ull;
    job->started_us = 1700000000000003ull;
    job->finished_us = UINT64_MAX;
    snprintf (job->error, sizeof job->error, "boom: exit 3");
    snprintf (job->require, sizeof job->require, "gpu,zone-a");

    shoal_wr_reset (pl);
    shoal_wr_map (pl, 5);
    shoal_wr_kv_str (pl, "to", "a@b.example");
    shoal_wr_str (pl, "n");
    shoal_wr_int (pl, -5);
    shoal_wr_str (pl, "f");
    shoal_wr_double (pl, 1.5);
    shoal_wr_str (pl, "list");
    shoal_wr_array (pl, 4);
    shoal_wr_uint (pl, 1);
    shoal_wr_str (pl, "two");
    shoal_wr_nil (pl);
    shoal_wr_bool (pl, true);
    shoal_wr_kv_bin (pl, "blob", "\x00\x01\xff", 3);
    job->payload = shoal_wr_data (pl);
    job->payload_len = shoal_wr_size (pl);

    shoal_wr_reset (res);
    shoal_wr_array (res, 3);
    shoal_wr_uint (res, 1);
    shoal_wr_uint (res, 2);
    shoal_wr_map (res, 1);
    shoal_wr_kv_str (res, "k", "v");
    job->result = shoal_wr_data (res);
    job->result_len = shoal_wr_size (res);
}

SHOAL_TEST (job_round_trip_every_field)
{
    shoal_wr_t *pl = shoal_wr_new (), *res = shoal_wr_new ();
    shoal_wr_t *w = shoal_wr_new (), *w2 = shoal_wr_new ();
    CHECK (pl && res && w && w2);
    shoal_job_t in, out;
    s_full_job (&in, pl, res);
    shoal_job_encode (&in, w);
    CHECK_OK (shoal_wr_error (w));
    shoal_limits_t lim = s_lim ();
    CHECK_OK (
        shoal_job_decode (shoal_wr_data (w), shoal_wr_size (w), &lim, &out));
    CHECK (memcmp (in.id.b, out.id.b, 16) == 0);
    CHECK_STR (out.queue, in.queue);
    CHECK_STR (out.type, in.type);
    CHECK_STR (out.executor, in.executor);
    CHECK_EQ (out.priority, in.priority);
    CHECK_EQ (out.state, in.state);
    CHECK_EQ (out.attempt, in.attempt);
    CHECK (out.epoch == in.epoch);
    CHECK (out.seq == in.seq);
    CHECK (out.created_us == in.created_us);
    CHECK (out.updated_us == in.updated_us);
    CHECK (out.started_us == in.started_us);
    CHECK (out.finished_us == in.finished_us);
    CHECK_STR (out.error, in.error);
    CHECK_STR (out.require, "gpu,zone-a");
    /* Payload and result: the same bytes, borrowed from the record. */
    CHECK (out.payload && out.result);
    CHECK_EQ (out.payload_len, in.payload_len);
    CHECK (memcmp (out.payload, in.payload, in.payload_len) == 0);
    CHECK_EQ (out.result_len, in.result_len);
    CHECK (memcmp (out.result, in.result, in.result_len) == 0);
    const uint8_t *lo = shoal_wr_data (w), *hi = lo + shoal_wr_size (w);
    CHECK (out.payload >= lo && out.payload + out.payload_len <= hi);
    CHECK (out.result >= lo && out.result + out.result_len <= hi);
    /* Encoding the decoded job gives the same record. */
    shoal_job_encode (&out, w2);
    CHECK_EQ (shoal_wr_size (w2), shoal_wr_size (w));
    CHECK (memcmp (shoal_wr_data (w2), shoal_wr_data (w), shoal_wr_size (w)) ==
           0);
    shoal_wr_destroy (&pl);
    shoal_wr_destroy (&res);
    shoal_wr_destroy (&w);
    shoal_wr_destroy (&w2);
}

SHOAL_TEST (job_round_trip_minimal)
{
    shoal_wr_t *w = shoal_wr_new ();
    CHECK (w);
    shoal_job_t in, out;
    memset (&in, 0, sizeof in);
    snprintf (in.queue, sizeof in.queue, "q");
    snprintf (in.type, sizeof in.type, "t");
    shoal_job_encode (&in, w);
    shoal_limits_t lim = s_lim ();
    /* Poison the output: decode must reset what it does not find. */
    memset (&out, 0x5a, sizeof out);
    CHECK_OK (
        shoal_job_decode (shoal_wr_data (w), shoal_wr_size (w), &lim, &out));
    CHECK_STR (out.queue, "q");
    CHECK_STR (out.type, "t");
    CHECK_STR (out.executor, "");
    CHECK_STR (out.error, "");
    CHECK_STR (out.require, ""); /* records without "rq" need nothing */
    CHECK (out.payload == NULL && out.payload_len == 0);
    CHECK (out.result == NULL && out.result_len == 0);
    CHECK (shoal_id_is_zero (&out.id));
    CHECK_EQ (out.attempt, 0);
    CHECK (out.finished_us == 0);
    shoal_wr_destroy (&w);
}

/*  Values written for the bad-record table. */
typedef enum {
    V_UINT,
    V_BIG, /* 2^32 */
    V_NEG, /* -1 */
    V_STR, /* "x" */
    V_NIL,
    V_BOOL,
    V_BIN15,
    V_BIN16,
    V_ARRAY,
    V_LONGSTR /* 65 bytes */
} s_val_t;

static void
s_write_val (shoal_wr_t *w, s_val_t v)
{
    static const uint8_t bin[16] = {1, 2, 3};
    switch (v) {
        case V_UINT:
            shoal_wr_uint (w, 7);
            break;
        case V_BIG:
            shoal_wr_uint (w, (uint64_t) 1 << 32);
            break;
        case V_NEG:
            shoal_wr_int (w, -1);
            break;
        case V_STR:
            shoal_wr_str (w, "x");
            break;
        case V_NIL:
            shoal_wr_nil (w);
            break;
        case V_BOOL:
            shoal_wr_bool (w, true);
            break;
        case V_BIN15:
            shoal_wr_bin (w, bin, 15);
            break;
        case V_BIN16:
            shoal_wr_bin (w, bin, 16);
            break;
        case V_ARRAY:
            shoal_wr_array (w, 1);
            shoal_wr_uint (w, 1);
            break;
        case V_LONGSTR: {
            char s[SHOAL_NAME_MAX + 1];
            memset (s, 'a', sizeof s);
            shoal_wr_strn (w, s, sizeof s);
            break;
        }
    }
}

/*  {q: "q1", t: "t1", key: v}: a valid record plus one pair. */
static shoal_err_t
s_decode_with (shoal_wr_t *w, const char *key, s_val_t v, shoal_job_t *job)
{
    shoal_wr_reset (w);
    shoal_wr_map (w, 3);
    shoal_wr_kv_str (w, "q", "q1");
    shoal_wr_kv_str (w, "t", "t1");
    shoal_wr_str (w, key);
    s_write_val (w, v);
    shoal_limits_t lim = s_lim ();
    return shoal_job_decode (shoal_wr_data (w), shoal_wr_size (w), &lim, job);
}

SHOAL_TEST (job_decode_rejects_wrong_types)
{
    static const struct {
        const char *key;
        s_val_t v;
    } bad[] = {
        {"id", V_STR},    {"id", V_UINT}, {"id", V_BIN15},  {"id", V_NIL},
        {"q", V_UINT},    {"q", V_NIL},   {"q", V_BIN16},   {"q", V_LONGSTR},
        {"t", V_UINT},    {"t", V_ARRAY}, {"t", V_LONGSTR}, {"x", V_UINT},
        {"x", V_LONGSTR}, {"er", V_UINT}, {"er", V_NIL},    {"p", V_STR},
        {"p", V_UINT},    {"p", V_NEG},   {"p", V_NIL},     {"s", V_STR},
        {"s", V_BIG},     {"s", V_BOOL},  {"a", V_STR},     {"a", V_BIG},
        {"a", V_NEG},     {"e", V_STR},   {"e", V_NEG},     {"n", V_STR},
        {"n", V_BOOL},    {"c", V_STR},   {"c", V_NIL},     {"u", V_STR},
        {"u", V_ARRAY},   {"st", V_STR},  {"st", V_NEG},    {"f", V_STR},
        {"f", V_BIN16},   {"rq", V_UINT}, {"rq", V_NIL},
    };
    shoal_wr_t *w = shoal_wr_new ();
    CHECK (w);
    shoal_job_t job;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        shoal_err_t rc = s_decode_with (w, bad[i].key, bad[i].v, &job);
        if (rc != SHOAL_ERR_MALFORMED) {
            shoal_wr_destroy (&w);
            SHOAL_FAIL_ ("key '%s' with value kind %d: %s, want MALFORMED",
                         bad[i].key, (int) bad[i].v, shoal_strerror (rc));
        }
    }
    /* The same keys with the right types are accepted. */
    CHECK_OK (s_decode_with (w, "id", V_BIN16, &job));
    CHECK_EQ (job.id.b[2], 3);
    CHECK_OK (s_decode_with (w, "e", V_BIG, &job));
    CHECK (job.epoch == (uint64_t) 1 << 32);
    CHECK_OK (s_decode_with (w, "pl", V_NIL, &job));
    CHECK_EQ (job.payload_len, 1);
    CHECK_EQ (job.payload[0], 0xc0);
    CHECK_OK (s_decode_with (w, "r", V_ARRAY, &job));
    CHECK_EQ (job.result_len, 2);
    shoal_wr_destroy (&w);
}

SHOAL_TEST (job_decode_rejects_missing_and_bad_shape)
{
    shoal_wr_t *w = shoal_wr_new ();
    CHECK (w);
    shoal_limits_t lim = s_lim ();
    shoal_job_t job;

    shoal_wr_map (w, 1); /* no type */
    shoal_wr_kv_str (w, "q", "q1");
    CHECK_RC (
        shoal_job_decode (shoal_wr_data (w), shoal_wr_size (w), &lim, &job),
        SHOAL_ERR_MALFORMED);

    shoal_wr_reset (w); /* no queue */
    shoal_wr_map (w, 2);
    shoal_wr_kv_str (w, "t", "t1");
    shoal_wr_kv_uint (w, "p", 1);
    CHECK_RC (
        shoal_job_decode (shoal_wr_data (w), shoal_wr_size (w), &lim, &job),
        SHOAL_ERR_MALFORMED);

    shoal_wr_reset (w); /* empty queue name */
    shoal_wr_map (w, 2);
    shoal_wr_kv_str (w, "q", "");
    shoal_wr_kv_str (w, "t", "t1");
    CHECK_RC (
        shoal_job_decode (shoal_wr_data (w), shoal_wr_size (w), &lim, &job),
        SHOAL_ERR_MALFORMED);

    shoal_wr_reset (w); /* not a map */
    shoal_wr_array (w, 2);
    shoal_wr_str (w, "q");
    shoal_wr_str (w, "t");
    CHECK_RC (
        shoal_job_decode (shoal_wr_data (w), shoal_wr_size (w), &lim, &job),
        SHOAL_ERR_MALFORMED);

    shoal_wr_reset (w); /* a non-string key */
    shoal_wr_map (w, 3);
    shoal_wr_kv_str (w, "q", "q1");
    shoal_wr_kv_str (w, "t", "t1");
    shoal_wr_uint (w, 1);
    shoal_wr_uint (w, 2);
    CHECK_RC (
        shoal_job_decode (shoal_wr_data (w), shoal_wr_size (w), &lim, &job),
        SHOAL_ERR_MALFORMED);

    /* Empty input and every truncation of a good record. */
    CHECK_RC (shoal_job_decode ((const uint8_t *) "", 0, &lim, &job),
              SHOAL_ERR_MALFORMED);
    shoal_wr_reset (w);
    shoal_wr_map (w, 3);
    shoal_wr_kv_str (w, "q", "q1");
    shoal_wr_kv_str (w, "t", "t1");
    shoal_wr_kv_uint (w, "e", 300);
    size_t size = shoal_wr_size (w);
    uint8_t copy[64];
    CHECK (size <= sizeof copy);
    memcpy (copy, shoal_wr_data (w), size);
    CHECK_OK (shoal_job_decode (copy, size, &lim, &job));
    for (size_t n = 0; n < size; n++) {
        shoal_err_t rc = shoal_job_decode (copy, n, &lim, &job);
        if (rc != SHOAL_ERR_MALFORMED) {
            shoal_wr_destroy (&w);
            SHOAL_FAIL_ ("truncated to %zu of %zu: %s", n, size,
                         shoal_strerror (rc));
        }
    }
    shoal_wr_destroy (&w);
}

SHOAL_TEST (job_decode_over_limits_is_too_large)
{
    shoal_wr_t *w = shoal_wr_new ();
    CHECK (w);
    shoal_limits_t lim = s_lim ();
    shoal_job_t job;
    shoal_wr_map (w, 3);
    shoal_wr_kv_str (w, "q", "q1");
    shoal_wr_kv_str (w, "t", "t1");
    shoal_wr_str (w, "pl");
    for (uint32_t i = 0; i < lim.depth_max + 4; i++) {
        shoal_wr_array (w, 1);
    }
    shoal_wr_uint (w, 1);
    CHECK_RC (
        shoal_job_decode (shoal_wr_data (w), shoal_wr_size (w), &lim, &job),
        SHOAL_ERR_TOO_LARGE);
    shoal_wr_destroy (&w);
}

SHOAL_TEST (job_unknown_keys_skipped)
{
    shoal_wr_t *w = shoal_wr_new ();
    CHECK (w);
    shoal_limits_t lim = s_lim ();
    shoal_job_t job;
    shoal_wr_map (w, 6);
    shoal_wr_str (w, "future");
    shoal_wr_map (w, 2);
    shoal_wr_kv_str (w, "q", "not-the-queue");
    shoal_wr_str (w, "deep");
    shoal_wr_array (w, 3);
    shoal_wr_uint (w, 1);
    shoal_wr_str (w, "t");
    shoal_wr_map (w, 0);
    shoal_wr_kv_str (w, "q", "real.queue");
    shoal_wr_kv_bin (w, "zz", "\x01\x02", 2);
    shoal_wr_kv_str (w, "t", "real.type");
    shoal_wr_kv_uint (w, "v", 99); /* a later record version */
    shoal_wr_kv_uint (w, "a", 4);
    CHECK_OK (
        shoal_job_decode (shoal_wr_data (w), shoal_wr_size (w), &lim, &job));
    CHECK_STR (job.queue, "real.queue");
    CHECK_STR (job.type, "real.type");
    CHECK_EQ (job.attempt, 4);
    CHECK (job.payload == NULL);
    shoal_wr_destroy (&w);
}

SHOAL_TEST (job_prio_parse_and_name)
{
    static const char *names[] = {"critical", "high", "normal", "low"};
    for (uint8_t i = 0; i < SHOAL_PRIO__COUNT; i++) {
        uint8_t p = 99;
        CHECK_OK (shoal_prio_parse (names[i], strlen (names[i]), &p));
        CHECK_EQ (p, i);
        CHECK_STR (shoal_prio_name (i), names[i]);
    }
    CHECK_EQ (SHOAL_PRIO_CRITICAL, 0);
    CHECK_EQ (SHOAL_PRIO_LOW, 3);
    uint8_t p = 99;
    /* Length-bounded: a longer buffer's prefix parses... */
    CHECK_OK (shoal_prio_parse ("normalXYZ", 6, &p));
    CHECK_EQ (p, SHOAL_PRIO_NORMAL);
    /* ...but prefixes, extensions, case and empty do not. */
    p = 99;
    CHECK_RC (shoal_prio_parse ("norm", 4, &p), SHOAL_ERR_INVALID);
    CHECK_RC (shoal_prio_parse ("normalX", 7, &p), SHOAL_ERR_INVALID);
    CHECK_RC (shoal_prio_parse ("High", 4, &p), SHOAL_ERR_INVALID);
    CHECK_RC (shoal_prio_parse ("", 0, &p), SHOAL_ERR_INVALID);
    CHECK_RC (shoal_prio_parse ("2", 1, &p), SHOAL_ERR_INVALID);
    CHECK_EQ (p, 99); /* untouched on error */
    CHECK_STR (shoal_prio_name (4), "?");
    CHECK_STR (shoal_prio_name (-1), "?");
}

SHOAL_TEST (job_state_names)
{
    CHECK_STR (shoal_job_state_name (SHOAL_JOB_SCHEDULED), "scheduled");
    CHECK_STR (shoal_job_state_name (SHOAL_JOB_ENQUEUED), "enqueued");
    CHECK_STR (shoal_job_state_name (SHOAL_JOB_LEASED), "leased");
    CHECK_STR (shoal_job_state_name (SHOAL_JOB_SUCCEEDED), "succeeded");
    CHECK_STR (shoal_job_state_name (SHOAL_JOB_FAILED), "failed");
    CHECK_STR (shoal_job_state_name (SHOAL_JOB_DEAD), "dead");
    CHECK_STR (shoal_job_state_name (SHOAL_JOB_CANCELLED), "cancelled");
    CHECK_STR (shoal_job_state_name (SHOAL_JOB_WAITING), "waiting");
    CHECK_STR (shoal_job_state_name (SHOAL_JOB__COUNT), "?");
    CHECK_STR (shoal_job_state_name (-1), "?");
    CHECK (!shoal_job_state_final (SHOAL_JOB_SCHEDULED));
    CHECK (!shoal_job_state_final (SHOAL_JOB_ENQUEUED));
    CHECK (!shoal_job_state_final (SHOAL_JOB_LEASED));
    CHECK (shoal_job_state_final (SHOAL_JOB_SUCCEEDED));
    CHECK (shoal_job_state_final (SHOAL_JOB_FAILED));
    CHECK (shoal_job_state_final (SHOAL_JOB_DEAD));
    CHECK (shoal_job_state_final (SHOAL_JOB_CANCELLED));
    CHECK (!shoal_job_state_final (SHOAL_JOB_WAITING));
}

SHOAL_TEST (job_round_trip_continuation_and_batch)
{
    shoal_wr_t *w = shoal_wr_new ();
    CHECK (w);
    shoal_job_t in, out;
    memset (&in, 0, sizeof in);
    snprintf (in.queue, sizeof in.queue, "q");
    snprintf (in.type, sizeof in.type, "t");
    in.state = SHOAL_JOB_WAITING;
    in.has_after = true;
    memset (in.after.b, 0xab, 16);
    in.after_mode = SHOAL_AFTER_ANY;
    in.in_batch = true;
    memset (in.batch.b, 0xcd, 16);
    shoal_job_encode (&in, w);
    shoal_limits_t lim = s_lim ();
    CHECK_OK (
        shoal_job_decode (shoal_wr_data (w), shoal_wr_size (w), &lim, &out));
    CHECK_EQ (out.state, SHOAL_JOB_WAITING);
    CHECK (out.has_after && out.in_batch);
    CHECK (memcmp (out.after.b, in.after.b, 16) == 0);
    CHECK (memcmp (out.batch.b, in.batch.b, 16) == 0);
    CHECK_EQ (out.after_mode, SHOAL_AFTER_ANY);
    uint8_t mode = 9;
    CHECK_OK (shoal_after_mode_parse ("success", 7, &mode));
    CHECK_EQ (mode, SHOAL_AFTER_SUCCESS);
    CHECK_RC (shoal_after_mode_parse ("sometimes", 9, &mode),
              SHOAL_ERR_INVALID);
    CHECK_STR (shoal_after_mode_name (SHOAL_AFTER_ANY), "any");
    shoal_wr_destroy (&w);
}

SHOAL_TEST (job_name_valid)
{
    char name[SHOAL_NAME_MAX + 2];
    memset (name, 'a', sizeof name);
    CHECK (!shoal_name_valid ("", 0));
    CHECK (shoal_name_valid (name, 1));
    CHECK (shoal_name_valid (name, SHOAL_NAME_MAX)); /* 64 */
    CHECK (!shoal_name_valid (name, SHOAL_NAME_MAX + 1));
    CHECK (shoal_name_valid ("AZaz09._:-", 10));
    CHECK (!shoal_name_valid ("a b", 3));
    CHECK (!shoal_name_valid ("a/b", 3));
    CHECK (!shoal_name_valid ("a\\b", 3));
    CHECK (!shoal_name_valid ("a@b", 3));
    CHECK (!shoal_name_valid ("a\tb", 3));
    CHECK (!shoal_name_valid ("a\0b", 3));
    CHECK (!shoal_name_valid ("caf\xc3\xa9", 5));
    /* Only len bytes are looked at. */
    CHECK (shoal_name_valid ("ab c", 2));
}

SHOAL_TEST (job_ready_key_round_trip)
{
    uint8_t key[SHOAL_READY_KEY_MAX];
    char queue[SHOAL_NAME_MAX + 1];
    uint8_t prio;
    uint64_t seq;

    size_t n =
        shoal_ready_key ("mail", SHOAL_PRIO_LOW, 0x0102030405060708ull, key);
    CHECK_EQ (n, 4 + 10);
    static const uint8_t want[] = {'m', 'a', 'i', 'l', 0, 3, 1,
                                   2,   3,   4,   5,   6, 7, 8};
    CHECK (memcmp (key, want, sizeof want) == 0);
    CHECK_OK (shoal_ready_key_parse (key, n, queue, &prio, &seq));
    CHECK_STR (queue, "mail");
    CHECK_EQ (prio, SHOAL_PRIO_LOW);
    CHECK (seq == 0x0102030405060708ull);

    /* The longest queue name and extreme values. */
    char longq[SHOAL_NAME_MAX + 1];
    memset (longq, 'q', SHOAL_NAME_MAX);
    longq[SHOAL_NAME_MAX] = '\0';
    n = shoal_ready_key (longq, SHOAL_PRIO_CRITICAL, UINT64_MAX, key);
    CHECK_EQ (n, SHOAL_READY_KEY_MAX);
    CHECK_OK (shoal_ready_key_parse (key, n, queue, &prio, &seq));
    CHECK_STR (queue, longq);
    CHECK_EQ (prio, 0);
    CHECK (seq == UINT64_MAX);

    n = shoal_ready_key ("q", SHOAL_PRIO_NORMAL, 0, key);
    CHECK_EQ (n, 11);
    CHECK_OK (shoal_ready_key_parse (key, n, queue, &prio, &seq));
    CHECK_STR (queue, "q");
    CHECK_EQ (prio, SHOAL_PRIO_NORMAL);
    CHECK (seq == 0);
}

SHOAL_TEST (job_ready_key_parse_rejects_junk)
{
    uint8_t key[SHOAL_READY_KEY_MAX + 8];
    char queue[SHOAL_NAME_MAX + 1];
    uint8_t prio;
    uint64_t seq;
    size_t n = shoal_ready_key ("jobs", 1, 42, key);

    CHECK_RC (shoal_ready_key_parse (key, 0, queue, &prio, &seq),
              SHOAL_ERR_INVALID);
    /* Every shorter or longer length of a good key. */
    for (size_t len = 1; len < n; len++) {
        CHECK_RC (shoal_ready_key_parse (key, len, queue, &prio, &seq),
                  SHOAL_ERR_INVALID);
    }
    key[n] = 0;
    CHECK_RC (shoal_ready_key_parse (key, n + 1, queue, &prio, &seq),
              SHOAL_ERR_INVALID);
    /* Empty queue: NUL prio seq alone. */
    uint8_t empty[10] = {0, 1, 0, 0, 0, 0, 0, 0, 0, 42};
    CHECK_RC (shoal_ready_key_parse (empty, sizeof empty, queue, &prio, &seq),
              SHOAL_ERR_INVALID);
    /* No separator, or a NUL inside the queue. */
    memcpy (key, "abcdefghijklmn", 14);
    CHECK_RC (shoal_ready_key_parse (key, 14, queue, &prio, &seq),
              SHOAL_ERR_INVALID);
    n = shoal_ready_key ("jobs", 1, 42, key);
    key[1] = 0;
    CHECK_RC (shoal_ready_key_parse (key, n, queue, &prio, &seq),
              SHOAL_ERR_INVALID);
    /* Longer than the longest possible key. */
    uint8_t big[SHOAL_READY_KEY_MAX + 1];
    memset (big, 'q', sizeof big);
    big[sizeof big - 10] = 0;
    CHECK_RC (shoal_ready_key_parse (big, sizeof big, queue, &prio, &seq),
              SHOAL_ERR_INVALID);
}

SHOAL_TEST_MAIN (job_round_trip_every_field, job_round_trip_minimal,
                 job_decode_rejects_wrong_types,
                 job_decode_rejects_missing_and_bad_shape,
                 job_decode_over_limits_is_too_large, job_unknown_keys_skipped,
                 job_prio_parse_and_name, job_state_names, job_name_valid,
                 job_ready_key_round_trip, job_ready_key_parse_rejects_junk,
                 job_round_trip_continuation_and_batch)
