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
