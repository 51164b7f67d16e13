package httpapi

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// clientAddr finds the address of the client behind a request, which login throttling counts per
// address and sessions record. It is the TCP peer's, unless the peer is one of the trusted
// reverse proxies (TRUSTED_PROXIES): then it is the right-most address of X-Forwarded-For that is
// not itself a trusted proxy, the one the last proxy of ours saw. Addresses further left were
// written by the client and could be anything. A request whose peer is not trusted has its
// X-Forwarded-For ignored altogether, so a client cannot pick an address to escape the limit.
type clientAddr struct {
	trusted []netip.Prefix
}

func (c clientAddr) isTrusted(a netip.Addr) bool {
	for _, p := range c.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// of returns the client address of r.
func (c clientAddr) of(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	peer = peer.Unmap().WithZone("")
	if len(c.trusted) == 0 || !c.isTrusted(peer) {
		return peer.String()
	}
	client := peer
	hops := r.Header.Values("X-Forwarded-For")
	for i := len(hops) - 1; i >= 0; i-- {
		parts := strings.Split(hops[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			a, ok := parseHop(parts[j])
			if !ok {
				// A trusted proxy wrote something that is no address: what is left of it cannot
				// be placed, so the client is the last hop that could.
				return client.String()
			}
			client = a
			if !c.isTrusted(a) {
				return client.String()
			}
		}
	}
	// Every hop is a trusted proxy: the left-most is as far as the chain goes.
	return client.String()
}

// parseHop reads one X-Forwarded-For entry: an address, possibly with a port (IPv6 in brackets).
func parseHop(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().WithZone(""), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone(""), true
	}
	return netip.Addr{}, false
}
