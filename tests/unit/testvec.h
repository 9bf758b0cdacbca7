/*
 * testvec — the policy vector files the unit tests play: one JSON file of
 * $MXS_SHARED_DATA/policy-vectors, loaded with jansson, its "cases" array
 * checked, and a tally of the vectors run and passed.
 *
 * Helpers for cmocka tests only: a file that cannot be read or has no
 * cases fails the calling test; with MXS_SHARED_DATA unset the calling
 * test is skipped.  Threading: none.
 */
#ifndef MXS_TESTVEC_H
#define MXS_TESTVEC_H

#include <stddef.h>

#include <jansson.h>

/* Vectors of one file: how many ran and passed. */
struct tv_tally {
	const char *file;    /* relative to $MXS_SHARED_DATA/policy-vectors */
	size_t n, pass, rfc; /* rfc: passed on the RFC verdict, upstream differs */
};

/*
 * Loads $MXS_SHARED_DATA/policy-vectors/REL and sets *cases to its
 * non-empty "cases" array (borrowed from the root).  Returns the root, for
 * the caller to json_decref.  Skips the test when MXS_SHARED_DATA is unset.
 */
json_t *tv_load(const char *rel, json_t **cases);

/* Counts vector I of t->file; prints WHAT when it failed (OK 0). */
void tv_tally_one(struct tv_tally *t, size_t i, int ok, const char *what);

/* Prints "FILE: N vectors, N passed" and asserts that all passed. */
void tv_tally_end(const struct tv_tally *t);

/* The string member KEY of object O, or NULL (absent or not a string). */
const char *tv_str(const json_t *o, const char *key);

#endif
