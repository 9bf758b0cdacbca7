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

/* Configuration files. */
#define MXS_CONF_FILE_MAX (1024 * 1024)

#endif
