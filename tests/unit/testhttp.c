/* testhttp — see testhttp.h. */
#include "testhttp.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <curl/curl.h>

struct buf {
	char *p;
	size_t len;
};

static size_t
on_data(char *d, size_t sz, size_t n, void *arg)
{
	struct buf *b = arg;
	char *np = realloc(b->p, b->len + sz * n + 1);

	if (np == NULL)
		return 0;
	b->p = np;
	memcpy(b->p + b->len, d, sz * n);
	b->len += sz * n;
	b->p[b->len] = '\0';
	return sz * n;
}

static void
hand_out(struct buf *b, char **out)
{
	if (out != NULL)
		*out = b->p != NULL ? b->p : strdup("");
	else
		free(b->p);
}

long
th_request(const char *method, const char *url, const char *token, const char *body, char **text,
           char **hdrs)
{
	struct curl_slist *h = NULL;
	struct buf b = {NULL, 0}, hb = {NULL, 0};
	char auth[1200];
	long status = 0;
	CURL *c = curl_easy_init();

	assert_non_null(c);
	if (token != NULL) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		h = curl_slist_append(h, auth);
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	else
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	if (body != NULL)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &hb);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
	if (curl_easy_perform(c) != CURLE_OK)
		fail_msg("%s %s: transfer failed", method, url);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	hand_out(&b, text);
	hand_out(&hb, hdrs);
	return status;
}
