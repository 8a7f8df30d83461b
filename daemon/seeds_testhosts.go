//go:build testhosts

package daemon

import (
	"fmt"
	"net"
	"os"
	"strings"
)

// testHosts maps names to addresses, read once from TestHostsEnv.
var testHosts = func() map[string][]string {
	out := map[string][]string{}
	for _, entry := range strings.Split(os.Getenv(TestHostsEnv), ";") {
		if strings.TrimSpace(entry) == "" {
			continue
		}
		name, ips, ok := strings.Cut(entry, "=")
		if !ok {
			fmt.Fprintf(os.Stderr, "ringd: $%s: %q is not name=ip,ip\n", TestHostsEnv, entry)
			os.Exit(2)
		}
		out[strings.TrimSpace(name)] = strings.Split(ips, ",")
	}
	return out
}()

// resolveSeeds replaces each seed whose host TestHostsEnv names with one
// seed per address, keeping the port; other seeds pass as they are.
func resolveSeeds(seeds []string) []string {
	var out []string
	for _, seed := range seeds {
		host, port, err := net.SplitHostPort(seed)
		if err != nil {
			host, port = seed, ""
		}
		ips, ok := testHosts[host]
		if !ok {
			out = append(out, seed)
			continue
		}
		for _, ip := range ips {
			if port == "" {
				out = append(out, ip)
			} else {
				out = append(out, net.JoinHostPort(ip, port))
			}
		}
	}
	return out
}
