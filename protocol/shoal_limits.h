/*  shoal_limits.h - bounds applied to every byte Shoal decodes.

    Untrusted input is checked against these before anything is allocated
    or walked (msgpack-c's own decoder has no limits; see ARCHITECTURE §9).
*/
#ifndef SHOAL_LIMITS_H_INCLUDED
#define SHOAL_LIMITS_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#define SHOAL_PROTO_VERSION 1
#define SHOAL_NAME_MAX      64           /* actor names, queues, types */
#define SHOAL_FRAME_MAX     (1u << 20)   /* default whole-frame limit */
#define SHOAL_DEPTH_MAX     16           /* default nesting limit */
#define SHOAL_STR_MAX       (512u << 10) /* default string/bin limit */
#define SHOAL_COUNT_MAX     65536u       /* default array/map entries */
#define SHOAL_HEADER_MAX    512          /* a header never needs more */
/* Between actors of one host a message may carry a whole client request
   plus envelope (a batch, a job with its payload and result), so the bus
   allows more than a client may send. */
#define SHOAL_BUS_FRAME_MAX (4u * SHOAL_FRAME_MAX)

typedef struct {
    size_t frame_max;   /* bytes in one frame, header included */
    uint32_t depth_max; /* containers nested inside one another */
    uint32_t str_max;   /* bytes in one str, bin or ext */
    uint32_t count_max; /* elements of one array, pairs of one map */
} shoal_limits_t;

/*  The defaults above, as a value: what a client may send. */
shoal_limits_t shoal_limits_default (void);

/*  Limits between the actors of one host: a bigger frame
    (SHOAL_BUS_FRAME_MAX) and four more levels of nesting, because an
    internal message wraps a client's body (a batch of items, a job record
    around a payload). */
shoal_limits_t shoal_limits_bus (void);

#endif
