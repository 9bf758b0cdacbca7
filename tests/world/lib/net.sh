# shellcheck shell=bash
# net.sh — the world's network: namespaces, veth links, service addresses.
#
# Topology (documentation addresses only; nothing is created in the host's
# own namespace, so the host's interfaces, routes and firewall are never
# touched):
#
#   mxs-agent  a0 198.51.100.2/24 2001:db8:100::2/64, default via srv side
#       |
#   mxs-srv    srv-a0 198.51.100.1/24 2001:db8:100::1/64
#              svc0   192.0.2.x/32, 2001:db8:2::x/128 (DNS, resolver, MX
#                     servers, policy host)
#
#   mxs-us/eu/ap  us0/eu0/ap0 203.0.113.{2,18,34}/28 2001:db8:10{1,2,3}::2/64,
#              default via srv-us0/eu0/ap0 (.1/.17/.33, ::1)
#   mxs-mbox   mb0 203.0.113.50/28 2001:db8:104::2/64, default via srv-mb0
#              mb-eu 203.0.113.65/28 2001:db8:105::1/64 <-> eu-mb in mxs-eu
#              (.66, ::2); mxs-eu routes STRIP_ADDR (192.0.2.36) via .65
#
# Regions and the middlebox attach with net_attach_agent; each gets its own
# link and subnet.

# net_ns NAME: create namespace NAME with lo up and IPv6 enabled, and its
# /etc/netns/NAME/resolv.conf pointing at the world's DNS.
net_ns() {
	local ns=$1
	ip netns add "$ns"
	ip -n "$ns" link set lo up
	in_ns "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=0 net.ipv6.conf.default.disable_ipv6=0
	# Addresses are added with nodad; this also covers link-local ones.
	in_ns "$ns" sysctl -qw net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.accept_dad=0
	mkdir -p "/etc/netns/$ns"
	printf 'nameserver %s\nnameserver %s\noptions timeout:1 attempts:2\n' \
		"$DNS_V4" "$DNS_V6" >"/etc/netns/$ns/resolv.conf"
}

# net_attach_agent NS IF SRV_V4/LEN AGENT_V4 SRV_V6/LEN AGENT_V6: link agent
# namespace NS (created here) to mxs-srv by a veth pair: IF in NS and srv-IF
# in mxs-srv; the agent's default routes point at the srv side.
net_attach_agent() {
	local ns=$1 ifn=$2 s4=$3 a4=$4 s6=$5 a6=$6
	net_ns "$ns"
	ip -n "$SRV_NS" link add "srv-$ifn" type veth peer name "$ifn" netns "$ns"
	ip -n "$SRV_NS" addr add "$s4" dev "srv-$ifn"
	ip -n "$SRV_NS" addr add "$s6" dev "srv-$ifn" nodad
	ip -n "$SRV_NS" link set "srv-$ifn" up
	ip -n "$ns" addr add "$a4/${s4#*/}" dev "$ifn"
	ip -n "$ns" addr add "$a6/${s6#*/}" dev "$ifn" nodad
	ip -n "$ns" link set "$ifn" up
	ip -n "$ns" route add default via "${s4%/*}" dev "$ifn"
	ip -n "$ns" -6 route add default via "${s6%/*}" dev "$ifn"
}

# net_regions: the region namespaces, the middlebox and eu's detour through
# it.  mxs-mbox hangs off mxs-srv like an agent (default route via srv, for
# the proxy's upstream connections) and has a second link to eu; eu routes
# only STRIP_ADDR that way.  In mxs-mbox, port 25 to STRIP_ADDR arriving
# from eu is REDIRECTed to mxs-strip-proxy; anything else to STRIP_ADDR is
# forwarded (replies come back directly from srv).
net_regions() {
	local r
	for r in $REGIONS; do
		# shellcheck disable=SC2086  # the fields of the table
		net_attach_agent "mxs-$r" ${REGION_NET[$r]}
	done
	# shellcheck disable=SC2086
	net_attach_agent "$MBOX_NS" $MBOX_SRV_NET
	local eu=mxs-$STRIP_REGION mif=mb-$STRIP_REGION eif=$STRIP_REGION-mb
	ip -n "$MBOX_NS" link add "$mif" type veth peer name "$eif" netns "$eu"
	ip -n "$MBOX_NS" addr add "$MBOX_EU_V4/$MBOX_EU_LEN" dev "$mif"
	ip -n "$MBOX_NS" addr add "$MBOX_EU_V6/64" dev "$mif" nodad
	ip -n "$MBOX_NS" link set "$mif" up
	ip -n "$eu" addr add "$EU_MBOX_V4/$MBOX_EU_LEN" dev "$eif"
	ip -n "$eu" addr add "$EU_MBOX_V6/64" dev "$eif" nodad
	ip -n "$eu" link set "$eif" up
	if is_v6 "$STRIP_ADDR"; then
		ip -n "$eu" -6 route add "$STRIP_ADDR/128" via "$MBOX_EU_V6" dev "$eif"
	else
		ip -n "$eu" route add "$STRIP_ADDR/32" via "$MBOX_EU_V4" dev "$eif"
	fi
	in_ns "$MBOX_NS" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
	local ipt=iptables
	is_v6 "$STRIP_ADDR" && ipt=ip6tables
	in_ns "$MBOX_NS" "$ipt" -t nat -A PREROUTING -i "$mif" -p tcp --dport 25 \
		-d "$STRIP_ADDR" -j REDIRECT --to-ports "$STRIP_PORT"
	in_ns "$MBOX_NS" "$ipt" -t nat -S PREROUTING
}

# net_srv: the server namespace and its service interface.  The kernel may
# lack the dummy driver (this one does); a veth pair with both ends inside
# mxs-srv serves as well.
net_srv() {
	net_ns "$SRV_NS"
	if ! ip -n "$SRV_NS" link add "$SVC_IF" type dummy 2>/dev/null; then
		ip -n "$SRV_NS" link add "$SVC_IF" type veth peer name "$SVC_IF-peer"
		ip -n "$SRV_NS" link set "$SVC_IF-peer" up
	fi
	ip -n "$SRV_NS" link set "$SVC_IF" up
}

# net_service_addr ADDR: a server address in mxs-srv (host route).
net_service_addr() {
	if is_v6 "$1"; then
		ip -n "$SRV_NS" addr add "$1/128" dev "$SVC_IF" nodad
	else
		ip -n "$SRV_NS" addr add "$1/32" dev "$SVC_IF"
	fi
}

# net_up: the whole topology.  Service addresses: DNS, the validating
# resolver, every scenario address, every policy host address; each once (a
# scenario may share an address with a service on another port).
net_up() {
	local a i
	local -A seen=()
	net_srv
	net_attach_agent "$AGENT_NS" a0 198.51.100.1/24 198.51.100.2 2001:db8:100::1/64 2001:db8:100::2
	net_regions
	for a in "$DNS_V4" "$DNS_V6" "$VALIDATING_RESOLVER" "$VALIDATING_RESOLVER_V6" "$COLLECTOR_V4" \
		"${LISTEN_ADDRS[@]}" $(for ((i = 0; i < POL_N; i++)); do echo "${P_ADDRS[i]}"; done); do
		[[ -z ${seen[$a]:-} ]] || continue
		seen[$a]=1
		net_service_addr "$a"
	done
}
