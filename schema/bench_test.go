package schema

import (
	"fmt"
	"strings"
	"testing"
)

// benchRepo generates a repository of n profiles (3 rules each) and 10 endpoints per profile.
func benchRepo(n int) map[string][]byte {
	files := map[string][]byte{}
	var eps strings.Builder
	eps.WriteString("endpoints:\n")
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("P%d", i)
		files["profiles/"+id+".yaml"] = []byte(fmt.Sprintf(`id: %s
tags: [%s, T%d]
inbound_rules:
  - action: allow
    protocol: tcp
    dst_ports: [80, 443, "8000:8080"]
    src_tag: T%d
  - action: allow
    protocol: icmp
    icmp_type: 8
outbound_rules:
  - action: allow
`, id, id, i%50, (i+1)%50))
		for j := 0; j < 10; j++ {
			k := i*10 + j
			fmt.Fprintf(&eps, "  - {id: ep-%d, host: node-%d, interface: cali%d, ipv4_nets: [198.18.%d.%d/32], profile_ids: [%s]}\n",
				k, k%20, k, k/250%256, k%250+1, id)
		}
	}
	files["endpoints/all.yaml"] = []byte(eps.String())
	return files
}

func BenchmarkLoad(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		files := benchRepo(n)
		size := 0
		for _, f := range files {
			size += len(f)
		}
		b.Run(fmt.Sprintf("profiles=%d,endpoints=%d", n, 10*n), func(b *testing.B) {
			b.SetBytes(int64(size))
			for b.Loop() {
				if _, errs := Load(files); errs != nil {
					b.Fatal(errs)
				}
			}
		})
	}
}
