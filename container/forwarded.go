package container

import (
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// Client addresses behind proxies.
//
// The address of the client is the direct peer's, unless the peer is a
// trusted proxy: then it is taken from Forwarded (RFC 7239) or, failing
// that, X-Forwarded-For. Both list one hop per proxy, each appended by the
// proxy that received the request, so only the hops appended by trusted
// proxies are believed: the client is the rightmost address that is not a
// trusted proxy. A forged header from an untrusted peer is ignored.

// defaultTrustedProxies: loopback, where a reverse proxy on the same host
// connects from.
var defaultTrustedProxies = []netip.Prefix{
	netip.MustParsePrefix("127.0.0.0/8"),
	netip.MustParsePrefix("::1/128"),
}

// clientAddr is an address with its port, when known (0 otherwise).
type clientAddr struct {
	ip   netip.Addr
	port int
}

// trusted reports whether ip is in one of the prefixes.
func trusted(ip netip.Addr, proxies []netip.Prefix) bool {
	ip = ip.Unmap()
	for _, p := range proxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// resolveClient returns the client's address given the direct peer and the
// Forwarded and X-Forwarded-For header values (joined with commas when the
// header appeared more than once).
func resolveClient(peer clientAddr, forwarded, xff string, proxies []netip.Prefix) clientAddr {
	if !peer.ip.IsValid() || !trusted(peer.ip, proxies) {
		return peer
	}
	var hops []clientAddr
	if forwarded != "" {
		hops = parseForwardedFor(forwarded)
	} else if xff != "" {
		for _, v := range strings.Split(xff, ",") {
			if a, ok := parseNode(strings.TrimSpace(v)); ok {
				hops = append(hops, a)
			} else {
				hops = append(hops, clientAddr{}) // unknown or obfuscated hop
			}
		}
	}
	if len(hops) == 0 {
		return peer
	}
	for i := len(hops) - 1; i >= 0; i-- {
		h := hops[i]
		if !h.ip.IsValid() {
			return peer // an unknown hop: nothing left of it can be trusted
		}
		if !trusted(h.ip, proxies) || i == 0 {
			return h
		}
	}
	return peer
}

// parseForwardedFor returns the for= node of each element of a Forwarded
// header value, in order; an element without a usable for= gives an
// invalid address.
func parseForwardedFor(v string) []clientAddr {
	var out []clientAddr
	for _, elem := range splitQuoted(v, ',') {
		var addr clientAddr
		for _, pair := range splitQuoted(elem, ';') {
			k, val, ok := strings.Cut(strings.TrimSpace(pair), "=")
			if !ok || !strings.EqualFold(strings.TrimSpace(k), "for") {
				continue
			}
			val = strings.Trim(strings.TrimSpace(val), `"`)
			addr, _ = parseNode(val)
		}
		out = append(out, addr)
	}
	return out
}

// parseNode parses a node: "192.0.2.1", "192.0.2.1:4711", "[2001:db8::1]",
// "[2001:db8::1]:4711" or a bare IPv6 address (X-Forwarded-For). Obfuscated
// names ("_hidden") and "unknown" are not addresses.
func parseNode(s string) (clientAddr, bool) {
	if ip, err := netip.ParseAddr(s); err == nil {
		return clientAddr{ip: ip.Unmap()}, true
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		host, port = strings.Trim(s, "[]"), ""
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return clientAddr{}, false
	}
	p, _ := strconv.Atoi(port)
	if p < 0 || p > 65535 {
		p = 0
	}
	return clientAddr{ip: ip.Unmap(), port: p}, true
}

// splitQuoted splits s at sep outside double quotes.
func splitQuoted(s string, sep byte) []string {
	var parts []string
	quoted, start := false, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			quoted = !quoted
		case sep:
			if !quoted {
				parts = append(parts, s[start:i])
				start = i + 1
			}
		}
	}
	return append(parts, s[start:])
}
