/*
 * output — the two presentations of a probe result: stable JSON (schema 1,
 * documented in docs/probe-json.md) and a readable table, one row per MX address.
 */
#ifndef MXS_OUTPUT_H
#define MXS_OUTPUT_H

#include <stdio.h>

#include "result.h"

/* Serialise r as pretty JSON into *out (malloc'd, caller frees). */
int mxs_result_to_json(const struct mxs_result *r, char **out) MXS_WUR;

/* Print r as a human-readable table. */
void mxs_result_print_table(const struct mxs_result *r, FILE *out);

#endif
