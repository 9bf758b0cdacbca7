# shellcheck shell=bash
# mbox.sh — the STARTTLS-stripping middlebox: mxs-strip-proxy in mxs-mbox,
# listening on its eu-side address, port $STRIP_PORT, where the namespace's
# iptables REDIRECTs eu's port-25 traffic to $STRIP_ADDR (net_regions).  It
# reads the original destination, connects there and relays, removing the
# STARTTLS line from EHLO replies.  Log: $LOG_DIR/strip-proxy.log, one
# key=value line per connection.

mbox_start() {
	local pid
	mkdir -p "$MBOX_DIR"
	pid=$(world_daemon "$MBOX_NS" "$LOG_DIR/strip-proxy.log" "$STRIP_PROXY_BIN" \
		-l "$MBOX_EU_V4" -l "$MBOX_EU_V6" -p "$STRIP_PORT")
	printf '%s\n' "$pid" >"$MBOX_DIR/strip-proxy.pid"
}

# mbox_ready: the proxy listens; fails after ~10 s.
mbox_ready() {
	local have
	for _ in $(seq 1 100); do
		have=$(in_ns "$MBOX_NS" ss -ltnH | awk '{ print $4 }')
		if grep -qxF "$MBOX_EU_V4:$STRIP_PORT" <<<"$have" &&
			grep -qxF "[$MBOX_EU_V6]:$STRIP_PORT" <<<"$have"; then
			return 0
		fi
		kill -0 "$(cat "$MBOX_DIR/strip-proxy.pid")" 2>/dev/null || world_fail "mxs-strip-proxy exited"
		sleep 0.1
	done
	world_fail "mxs-strip-proxy does not listen on $MBOX_EU_V4 and [$MBOX_EU_V6] port $STRIP_PORT"
}
