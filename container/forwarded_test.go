package container

import (
	"net/netip"
	"testing"
)

func TestResolveClient(t *testing.T) {
	loop := clientAddr{ip: netip.MustParseAddr("127.0.0.1"), port: 5000}
	outside := clientAddr{ip: netip.MustParseAddr("203.0.113.9"), port: 6000}
	proxies := append([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, defaultTrustedProxies...)
	cases := []struct {
		label          string
		peer           clientAddr
		forwarded, xff string
		want           string
		port           int
	}{
		{"no headers", loop, "", "", "127.0.0.1", 5000},
		{"forwarded", loop, "for=192.0.2.60;proto=http;by=203.0.113.43", "", "192.0.2.60", 0},
		{"forwarded with port", loop, `for="192.0.2.60:4711"`, "", "192.0.2.60", 4711},
		{"forwarded ipv6", loop, `for="[2001:db8:cafe::17]:4711"`, "", "2001:db8:cafe::17", 4711},
		{"forwarded wins over xff", loop, "for=192.0.2.60", "198.51.100.1", "192.0.2.60", 0},
		{"xff", loop, "", "198.51.100.1", "198.51.100.1", 0},
		{"xff chain: rightmost untrusted", loop, "", "6.6.6.6, 198.51.100.1, 10.1.2.3", "198.51.100.1", 0},
		{"forwarded chain", loop, "for=6.6.6.6, for=198.51.100.1, for=10.0.0.2", "", "198.51.100.1", 0},
		{"all trusted: leftmost", loop, "", "10.0.0.5, 10.0.0.6", "10.0.0.5", 0},
		{"forged from untrusted peer", outside, "for=1.2.3.4", "1.2.3.4", "203.0.113.9", 6000},
		{"unknown hop", loop, "for=unknown", "", "127.0.0.1", 5000},
		{"obfuscated hop", loop, "for=_hidden, for=198.51.100.1", "", "198.51.100.1", 0},
		{"garbage", loop, "", "not an address", "127.0.0.1", 5000},
		{"quoted comma", loop, `for="[::1]:80";x="a,b", for=192.0.2.1`, "", "192.0.2.1", 0},
	}
	for _, tc := range cases {
		got := resolveClient(tc.peer, tc.forwarded, tc.xff, proxies)
		if got.ip.String() != tc.want || got.port != tc.port {
			t.Errorf("%s: %v:%d, want %s:%d", tc.label, got.ip, got.port, tc.want, tc.port)
		}
	}
}
