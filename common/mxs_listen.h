/* mxs_listen — the "ADDR:PORT" listen option of the daemons' HTTP servers. */
#ifndef MXS_LISTEN_H
#define MXS_LISTEN_H

#include <stddef.h>
#include <stdint.h>

#include "mxs_err.h"

/* "ADDR:PORT" or "[V6]:PORT" into addr (alen bytes) and *port; port 0 is
 * allowed (the kernel picks one).  MXS_ECONFIG with the reason otherwise. */
int mxs_listen_parse(const char *s, char *addr, size_t alen, uint16_t *port, char *err,
                     size_t errlen) MXS_WUR;

/* The local port bound to socket fd, or -1. */
int mxs_listen_port(int fd);

#endif
