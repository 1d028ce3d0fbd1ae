/*  shoal_limits.c - default decoding limits. */
#include "shoal_limits.h"

shoal_limits_t
shoal_limits_default (void)
{
    shoal_limits_t lim = {
        .frame_max = SHOAL_FRAME_MAX,
        .depth_max = SHOAL_DEPTH_MAX,
        .str_max = SHOAL_STR_MAX,
        .count_max = SHOAL_COUNT_MAX,
    };
    return lim;
}

shoal_limits_t
shoal_limits_bus (void)
{
    shoal_limits_t lim = shoal_limits_default ();
    lim.frame_max = SHOAL_BUS_FRAME_MAX;
    lim.depth_max = SHOAL_DEPTH_MAX + 4;
    return lim;
}
