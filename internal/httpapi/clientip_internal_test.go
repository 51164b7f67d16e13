package httpapi

import (
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestClientAddr(t *testing.T) {
	t.Parallel()
	proxies := clientAddr{trusted: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}}
	tests := []struct {
		name   string
		c      clientAddr
		peer   string
		header []string
		want   string
	}{
		{"no proxies trusted: the peer, whatever the header says", clientAddr{}, "203.0.113.9:4000", []string{"198.51.100.1"}, "203.0.113.9"},
		{"untrusted peer: the header is ignored", proxies, "203.0.113.9:4000", []string{"198.51.100.1"}, "203.0.113.9"},
		{"trusted peer, no header", proxies, "10.0.0.2:4000", nil, "10.0.0.2"},
		{"trusted peer: the address it saw", proxies, "10.0.0.2:4000", []string{"198.51.100.1"}, "198.51.100.1"},
		{"what the client wrote is left of it", proxies, "10.0.0.2:4000", []string{"1.1.1.1, 2.2.2.2, 198.51.100.1"}, "198.51.100.1"},
		{"a chain of trusted proxies", proxies, "10.0.0.2:4000", []string{"1.1.1.1, 198.51.100.1, 10.0.0.7, 10.0.0.3"}, "198.51.100.1"},
		{"headers in order", proxies, "10.0.0.2:4000", []string{"1.1.1.1, 198.51.100.1", "10.0.0.3"}, "198.51.100.1"},
		{"only trusted hops: the farthest", proxies, "10.0.0.2:4000", []string{"10.0.0.9, 10.0.0.3"}, "10.0.0.9"},
		{"garbage stops the walk", proxies, "10.0.0.2:4000", []string{"198.51.100.1, unknown, 10.0.0.3"}, "10.0.0.3"},
		{"ports and IPv6", proxies, "[fd00::1]:4000", []string{"1.1.1.1, [2001:db8::7]:5555"}, "2001:db8::7"},
		{"an address with a port", proxies, "10.0.0.2:4000", []string{"198.51.100.1:5555"}, "198.51.100.1"},
		{"IPv4-mapped IPv6 is IPv4", proxies, "[::ffff:10.0.0.2]:4000", []string{"::ffff:198.51.100.1"}, "198.51.100.1"},
		{"IPv6 peer", clientAddr{}, "[2001:db8::1]:4000", nil, "2001:db8::1"},
	}
	for _, tc := range tests {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tc.peer
		for _, h := range tc.header {
			r.Header.Add("X-Forwarded-For", h)
		}
		require.Equal(t, tc.want, tc.c.of(r), tc.name)
	}
}
