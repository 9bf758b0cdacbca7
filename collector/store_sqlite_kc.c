/*
 * store_sqlite_kc — the key cache of a store_sqlite handle, used by
 * put_batch (store_sqlite_obs.c).
 *
 * What state holds per key, remembered as a keyed hash, so that a row
 * whose compared fields equal its key's state (nearly every row) needs no
 * state read.  An entry maps SipHash(domain, address, region) to
 * SipHash(compared fields) of the state row.  The key is random per handle:
 * field values come partly from the internet (TLSA records, MTA-STS ids),
 * and nobody can aim for a collision without it.  A hit with an equal
 * field hash skips the read; anything else takes the read (so a key-hash
 * collision only costs a read, unless the fields also collide: 2^-64).
 *
 * The cache is only ever a copy: it is emptied when another connection
 * committed (PRAGMA data_version moved) and when a batch rolls back (both
 * done by put_batch, through kc_clear).
 * Entries are never removed otherwise (state keeps every key); at
 * KC_MAX_SLOTS, new keys are no longer cached and simply take the read.
 */
#include "store_sqlite_int.h"

#include <stdlib.h>
#include <string.h>

#include <sys/random.h>

#define KC_MIN_SLOTS 4096
#define KC_MAX_SLOTS (1u << 21) /* 32 MiB, about 1.5 M keys */

struct kc_entry {
	uint64_t key; /* 0: empty */
	uint64_t val;
};

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                                   \
	do {                                                                                       \
		v0 += v1;                                                                          \
		v1 = ROTL(v1, 13);                                                                 \
		v1 ^= v0;                                                                          \
		v0 = ROTL(v0, 32);                                                                 \
		v2 += v3;                                                                          \
		v3 = ROTL(v3, 16);                                                                 \
		v3 ^= v2;                                                                          \
		v0 += v3;                                                                          \
		v3 = ROTL(v3, 21);                                                                 \
		v3 ^= v0;                                                                          \
		v2 += v1;                                                                          \
		v1 = ROTL(v1, 17);                                                                 \
		v1 ^= v2;                                                                          \
		v2 = ROTL(v2, 32);                                                                 \
	} while (0)

/* SipHash-2-4 (Aumasson and Bernstein) of p[0..len). */
uint64_t
kc_siphash24(uint64_t k0, uint64_t k1, const unsigned char *p, size_t len)
{
	uint64_t v0 = k0 ^ 0x736f6d6570736575ULL, v1 = k1 ^ 0x646f72616e646f6dULL;
	uint64_t v2 = k0 ^ 0x6c7967656e657261ULL, v3 = k1 ^ 0x7465646279746573ULL;
	uint64_t m, b = (uint64_t)len << 56;
	size_t i, left = len & 7;

	for (i = 0; i + 8 <= len; i += 8) {
		m = (uint64_t)p[i] | (uint64_t)p[i + 1] << 8 | (uint64_t)p[i + 2] << 16 |
		    (uint64_t)p[i + 3] << 24 | (uint64_t)p[i + 4] << 32 | (uint64_t)p[i + 5] << 40 |
		    (uint64_t)p[i + 6] << 48 | (uint64_t)p[i + 7] << 56;
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	while (left > 0) {
		left--;
		b |= (uint64_t)p[i + left] << (8 * left);
	}
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

void
kc_init(struct key_cache *kc)
{
	unsigned char k[16];

	memset(kc, 0, sizeof(*kc));
	kc->data_version = -1;
	if (getrandom(k, sizeof(k), 0) != (ssize_t)sizeof(k))
		return; /* correct without it, only slower */
	memcpy(&kc->k0, k, 8);
	memcpy(&kc->k1, k + 8, 8);
	kc->on = 1;
}

void
kc_clear(struct key_cache *kc)
{
	if (kc->tab != NULL)
		memset(kc->tab, 0, kc->slots * sizeof(*kc->tab));
	kc->used = 0;
}

void
kc_free(struct key_cache *kc)
{
	free(kc->tab);
	kc->tab = NULL;
	kc->slots = kc->used = 0;
}

/* The slot of key: its entry, or the empty slot where it would go. */
static struct kc_entry *
kc_slot(struct key_cache *kc, uint64_t key)
{
	size_t i = (size_t)key & (kc->slots - 1);

	while (kc->tab[i].key != 0 && kc->tab[i].key != key)
		i = (i + 1) & (kc->slots - 1);
	return &kc->tab[i];
}

/* The cached field hash of key, or 0 when not cached. */
uint64_t
kc_get(struct key_cache *kc, uint64_t key)
{
	if (kc->used == 0)
		return 0;
	return kc_slot(kc, key)->val;
}

/* Remember val for key; growing may fail or stop at KC_MAX_SLOTS, and
 * then a new key is not cached (never an error: the cache is optional). */
void
kc_put(struct key_cache *kc, uint64_t key, uint64_t val)
{
	struct kc_entry *e;

	if (!kc->on)
		return;
	if ((kc->used + 1) * 4 > kc->slots * 3 && kc->slots < KC_MAX_SLOTS) {
		size_t n = kc->slots == 0 ? KC_MIN_SLOTS : kc->slots * 2, i;
		struct kc_entry *old = kc->tab, *nt = calloc(n, sizeof(*nt));

		if (nt != NULL) {
			size_t oslots = kc->slots;

			kc->tab = nt;
			kc->slots = n;
			for (i = 0; i < oslots; i++)
				if (old[i].key != 0)
					*kc_slot(kc, old[i].key) = old[i];
			free(old);
		}
	}
	if (kc->slots == 0)
		return;
	e = kc_slot(kc, key);
	if (e->key == 0) {
		if ((kc->used + 1) * 4 > kc->slots * 3)
			return; /* full */
		e->key = key;
		kc->used++;
	}
	e->val = val;
}
