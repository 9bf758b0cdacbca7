/*
 * testhttp — one HTTP request with libcurl, for the unit tests of the
 * daemons' HTTP servers (test_api, test_agent_metrics).  A transfer that
 * fails fails the calling test (cmocka).
 */
#ifndef MXS_TESTHTTP_H
#define MXS_TESTHTTP_H

/*
 * method url, with "Authorization: Bearer token" when token is not NULL
 * and body when body is not NULL (HEAD asks for no body).  Returns the
 * status; *text and *hdrs (either may be NULL) the body and the response
 * headers, malloc'd, caller frees.
 */
long th_request(const char *method, const char *url, const char *token, const char *body,
                char **text, char **hdrs);

#endif
