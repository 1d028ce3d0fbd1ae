/*  shoal_event.c - event batch framing. */
#include "shoal_event.h"

shoal_wr_t *
shoal_event_begin (shoal_port_t *port, uint32_t count)
{
    shoal_wr_t *w =
        shoal_port_begin (port, SHOAL_M_EVENT, SHOAL_MONITOR_NAME, NULL);
    shoal_wr_map (w, 1);
    shoal_wr_str (w, "events");
    shoal_wr_array (w, count);
    return w;
}

void
shoal_event_head (shoal_wr_t *wr, shoal_port_t *port, const char *topic,
                  uint32_t extra)
{
    shoal_wr_map (wr, 2 + extra);
    shoal_wr_kv_str (wr, "topic", topic);
    shoal_wr_kv_uint (wr, "ts", shoal_clock_now_us (shoal_port_clock (port)));
}
