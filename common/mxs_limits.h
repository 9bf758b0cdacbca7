/*
 * mxs_limits — every limit on input from outside the process, in one place.
 * A parser that reads network, file or peer input names one of these.
 */
#ifndef MXS_LIMITS_H
#define MXS_LIMITS_H

/* SMTP (RFC 5321 §4.5.3.1.5 allows 512 octets per reply line; real servers
 * exceed that a little, hostile ones by megabytes). */
#define MXS_SMTP_LINE_MAX    2048  /* one reply line, CRLF included */
#define MXS_SMTP_REPLY_LINES 64    /* lines in one multi-line reply */
#define MXS_SMTP_REPLY_MAX   16384 /* bytes in one whole reply */
#define MXS_EHLO_CAPS_MAX    64    /* EHLO keywords kept as evidence */

/* TLS and certificates. */
#define MXS_CHAIN_MAX 10  /* certificates kept from a presented chain */
#define MXS_NAMES_MAX 100 /* subjectAltName DNS names kept per certificate */

/* DNS. */
#define MXS_DNS_PACKET_MAX 65535 /* a DNS message can never be larger */
#define MXS_DNS_RR_MAX     256   /* records kept from one answer section */
#define MXS_DNS_NAME_MAX   255   /* wire length of a name (RFC 1035 §2.3.4) */
#define MXS_DNS_CNAME_MAX  8     /* CNAME hops followed */
#define MXS_MX_MAX         32    /* MX hosts probed per domain */
#define MXS_ADDR_MAX       16    /* addresses probed per MX host and family */

/* MTA-STS (RFC 8461) and TLS-RPT (RFC 8460) records and policies. */
#define MXS_TXT_TEXT_MAX      4096     /* octets of one joined TXT record a parser accepts */
#define MXS_TXT_EXT_MAX       16       /* extensions kept per record; later ones counted */
#define MXS_TXT_EXT_NAME_MAX  32       /* grammar: (ALPHA/DIGIT) *31(...) */
#define MXS_TXT_EXT_VALUE_MAX 256      /* buffer for one kept extension value, NUL included */
#define MXS_STS_ID_MAX        32       /* grammar: 1*32(ALPHA / DIGIT) */
#define MXS_TLSRPT_RUA_MAX    16       /* URIs accepted in one rua= field */
#define MXS_TLSRPT_URI_MAX    512      /* buffer for one rua URI, NUL included */
#define MXS_STS_POLICY_MAX    65536    /* policy body bytes (§3.3 suggests 64 KB) */
#define MXS_STS_MX_MAX        256      /* mx patterns accepted in one policy */
#define MXS_STS_EXT_MAX       32       /* policy extension fields kept as evidence */
#define MXS_STS_MAX_AGE_MAX   31557600 /* RFC 8461 §3.2: max_age maximum (a year) */

/* HTTPS policy fetch. */
#define MXS_HTTP_BODY_MAX     (64 * 1024) /* largest body kept: the policy's 64 KiB */
#define MXS_HTTP_URL_MAX      2048        /* request URL, NUL excluded */
#define MXS_HTTP_CTYPE_MAX    256         /* Content-Type kept, NUL included */
#define MXS_HTTP_LOCATION_MAX 1024        /* Location kept, NUL included */
#define MXS_HTTP_HEADERS_MAX  (16 * 1024) /* all response header bytes, status line too */
#define MXS_FETCH_ADDRS_MAX   16          /* pre-resolved addresses per fetch */
#define MXS_FETCH_TIMEOUT_MAX 600000      /* ms, for either timeout of a request */

/* DANE (RFC 7672). */
#define MXS_TLSA_RR_MAX    256           /* TLSA records judged per RRset (= MXS_DNS_RR_MAX) */
#define MXS_TLSA_DATA_MAX  8192          /* octets of a Full(0) association; longer is malformed */
#define MXS_DANE_CHAIN_MAX MXS_CHAIN_MAX /* presented certificates offered to DANE matching */

/* Agent <-> collector wire (protobuf over nng). */
#define MXS_WIRE_MSG_MAX (4 * 1024 * 1024) /* bytes in one Envelope; nng's RECVMAXSZ */
#define MXS_WIRE_UNPACK_MEM_MAX                                                                    \
	(64 * 1024 * 1024)       /* heap one unpack may use (tiny                                  \
	                            submessages decode to big structs) */
#define MXS_WIRE_ERRTEXT_MAX 256 /* bytes of Error.text sent to a peer */

/* Configuration files. */
#define MXS_CONF_FILE_MAX (1024 * 1024)

#endif
