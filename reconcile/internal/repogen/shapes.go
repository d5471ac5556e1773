package repogen

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Shape is the size of a benchmark repository (issue 10): Hosts hosts node-1 … node-<Hosts>,
// each with PerHost endpoints in its own file endpoints/node-<h>.yaml, Profiles profiles
// profiles/P<nnnn>.yaml and Tags distinct tags T<nnnn> carried by them. Every profile has 6
// inbound rules (a tcp port list from a tag, deny tcp 22, udp {53, 853} from 198.18.0.0/16, icmp
// type 8, icmpv6 type 128, one tcp port from fd00::/16) and 2 outbound (deny tcp 25 to a tag,
// allow). Every endpoint has a MAC, a /32 from 198.18.0.0/15, a /128 from fd00::/8 and two
// distinct profiles drawn from the seed. The shape is the one of /tmp/i10/genrepo.py, with
// the addresses moved into the benchmark ranges.
type Shape struct {
	Hosts, PerHost, Profiles, Tags int
}

// Dense is the dense shape at n local endpoints (genrepo.py `scaledN`): node-1 and node-2 with
// n endpoints each, n/10 profiles and n/10 tags (at least 2 of each). Dense(5000) is the dense
// host of issue 10: 5,000 local endpoints, 500 profiles, 500 tags.
func Dense(n int) Shape {
	return Shape{Hosts: 2, PerHost: n, Profiles: max(n/10, 2), Tags: max(n/10, 2)}
}

// Fleet is the fleet shape of issue 10: 100,000 endpoints over 400 hosts (250 each, one file per
// host), 2,000 profiles, 2,000 tags.
func Fleet() Shape { return Shape{Hosts: 400, PerHost: 250, Profiles: 2000, Tags: 2000} }

// maxShapeEndpoints is how many endpoint /32s fit in 198.18.0.0/15 below the addresses kept for
// AddRemoteEndpoint (the top 1,024).
const maxShapeEndpoints = 1<<17 - 1024 - 2

// Files returns the repository of the shape, deterministic by seed: the same seed gives the
// same bytes. Keys are repository-relative slash paths, as schema.Load takes them. Errors: a
// shape with fewer than 2 profiles or 2 tags, or more endpoints than 198.18.0.0/15 holds
// (130,046).
func (s Shape) Files(seed uint64) (map[string][]byte, error) {
	if s.Profiles < 2 || s.Tags < 2 || s.Hosts < 1 || s.PerHost < 0 {
		return nil, fmt.Errorf("shape %+v: needs at least 1 host, 2 profiles and 2 tags", s)
	}
	if s.Hosts*s.PerHost > maxShapeEndpoints {
		return nil, fmt.Errorf("shape %+v: %d endpoints, 198.18.0.0/15 holds %d", s, s.Hosts*s.PerHost, maxShapeEndpoints)
	}
	files := make(map[string][]byte, s.Profiles+s.Hosts)
	for p := range s.Profiles {
		files[fmt.Sprintf("profiles/P%04d.yaml", p)] = profileYAML(p, s.Tags)
	}
	src := FromSeed(seed)
	k := 0
	for h := 1; h <= s.Hosts; h++ {
		var b strings.Builder
		b.Grow(s.PerHost * 260)
		b.WriteString("endpoints:\n")
		for i := range s.PerHost {
			a := src.Intn(s.Profiles)
			c := src.Intn(s.Profiles - 1)
			if c >= a {
				c++
			}
			writeEndpoint(&b, fmt.Sprintf("ep-%d-%d", h, i), fmt.Sprintf("node-%d", h),
				fmt.Sprintf("cali%d", i), k, fmt.Sprintf("fd00:%x::%x", h, i+1), a, c)
			k++
		}
		files[fmt.Sprintf("endpoints/node-%d.yaml", h)] = []byte(b.String())
	}
	return files, nil
}

// Write writes the shape's files (Files) under dir, creating dir/profiles and dir/endpoints.
func (s Shape) Write(dir string, seed uint64) error {
	files, err := s.Files(seed)
	if err != nil {
		return err
	}
	return WriteFiles(dir, files)
}

// WriteFiles writes files (repository-relative slash paths) under dir, creating folders.
func WriteFiles(dir string, files map[string][]byte) error {
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	for _, p := range paths {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(full, files[p], 0o644); err != nil {
			return err
		}
	}
	return nil
}

// portLists are the tcp port lists of the first inbound rule, by profile number modulo 4.
var portLists = [][]string{{"80", "443", `"8000:8080"`}, {"80", "443"}, {"8443", "9443", ""}, {`"3000:3100"`, "5432"}}

func profileYAML(p, tags int) []byte {
	t1, t2, t3, t4 := p%tags, (p*7+3)%tags, (p+1)%tags, (p*13+2)%tags
	if t2 == t1 { // never at the sizes (500, 2,000 tags); a duplicate tag is invalid
		t2 = (t1 + 1) % tags
	}
	pl := slices.Clone(portLists[p%4])
	if pl[len(pl)-1] == "" {
		pl[len(pl)-1] = strconv.Itoa(10000 + p%50)
	}
	return fmt.Appendf(nil, `id: P%04d
tags: [T%04d, T%04d]
inbound_rules:
  - {action: allow, protocol: tcp, dst_ports: [%s], src_tag: T%04d}
  - {action: deny, protocol: tcp, dst_ports: [22]}
  - {action: allow, protocol: udp, dst_ports: [53, 853], src_net: 198.18.0.0/16}
  - {action: allow, protocol: icmp, icmp_type: 8}
  - {action: allow, protocol: icmpv6, icmp_type: 128}
  - {action: allow, protocol: tcp, dst_ports: [%d], src_net: "fd00::/16"}
outbound_rules:
  - {action: deny, dst_tag: T%04d, protocol: tcp, dst_ports: [25]}
  - {action: allow}
`, p, t1, t2, strings.Join(pl, ", "), t3, 9000+p%100, t4)
}

// writeEndpoint writes one endpoint item; k numbers it within the repository (its MAC and its
// /32: 198.18.0.0 + 1 + k).
func writeEndpoint(b *strings.Builder, id, host, iface string, k int, v6 string, a, c int) {
	v := k + 1
	fmt.Fprintf(b, `  - id: %s
    host: %s
    interface: %s
    mac: "ee:ee:ee:%02x:%02x:%02x"
    ipv4_nets: [198.%d.%d.%d/32]
    ipv6_nets: ["%s/128"]
    profile_ids: [P%04d, P%04d]
    state: active
`, id, host, iface, (k>>16)&255, (k>>8)&255, k&255, 18+(v>>16), (v>>8)&255, v&255, v6, a, c)
}

var (
	profileIDsLine = regexp.MustCompile(`(?m)^    profile_ids: \[P(\d+), P(\d+)\]$`)
	srcTagRe       = regexp.MustCompile(`src_tag: (T\d+)`)
	denyPortRe     = regexp.MustCompile(`(?m)^  - \{action: deny, protocol: tcp, dst_ports: \[(\d+)\]\}$`)
)

func endpointsPath(host string) string { return "endpoints/" + host + ".yaml" }

func profilePath(n int) string { return fmt.Sprintf("profiles/P%04d.yaml", n) }

// profileCount counts the profiles/P*.yaml files of files.
func profileCount(files map[string][]byte) int {
	n := 0
	for p := range files {
		if strings.HasPrefix(p, "profiles/P") {
			n++
		}
	}
	return n
}

// firstProfiles returns the two profile numbers of host's first endpoint in files.
func firstProfiles(files map[string][]byte, host string) (a, b int, loc []int, err error) {
	path := endpointsPath(host)
	body, ok := files[path]
	if !ok {
		return 0, 0, nil, fmt.Errorf("%s: no such file", path)
	}
	loc = profileIDsLine.FindSubmatchIndex(body)
	if loc == nil {
		return 0, 0, nil, fmt.Errorf("%s: no profile_ids line of the generated shape", path)
	}
	a, _ = strconv.Atoi(string(body[loc[2]:loc[3]]))
	b, _ = strconv.Atoi(string(body[loc[4]:loc[5]]))
	return a, b, loc, nil
}

// ChangeLocalEndpoint edits host's first endpoint in files (a repository of a Shape, changed in
// place): its two profiles become the next two profile numbers (modulo the profile count), so
// the endpoint moves to other profiles. It returns the one path it changed. Errors: the host's
// file is missing or not of the generated shape.
func ChangeLocalEndpoint(files map[string][]byte, host string) (string, error) {
	a, b, loc, err := firstProfiles(files, host)
	if err != nil {
		return "", err
	}
	n := profileCount(files)
	na, nb := (a+1)%n, (b+1)%n
	path := endpointsPath(host)
	body := files[path]
	line := fmt.Sprintf("    profile_ids: [P%04d, P%04d]", na, nb)
	files[path] = slices.Concat(body[:loc[0]], []byte(line), body[loc[1]:])
	return path, nil
}

// AddRemoteEndpoint appends endpoint number n (0 ≤ n < 1,024; id ep-added-<n>) to remote's file
// in files, with addresses kept free by Files (198.19.255.254 - n, fd00:ffff::<n+1>) and the
// first profile (in path order) that carries the tag that the first inbound rule of local's
// first endpoint's first profile allows traffic from: so that a tag set of local's ruleset gains
// exactly this endpoint's addresses. It returns the one path it changed.
func AddRemoteEndpoint(files map[string][]byte, local, remote string, n int) (string, error) {
	if n < 0 || n >= 1024 {
		return "", fmt.Errorf("added endpoint number %d: want 0 to 1023", n)
	}
	a, _, _, err := firstProfiles(files, local)
	if err != nil {
		return "", err
	}
	m := srcTagRe.FindSubmatch(files[profilePath(a)])
	if m == nil {
		return "", fmt.Errorf("%s: no src_tag", profilePath(a))
	}
	tag := string(m[1])
	carrier := -1
	for q := range profileCount(files) {
		body := files[profilePath(q)]
		if i := strings.Index(string(body), "\ntags: ["); i >= 0 {
			line, _, _ := strings.Cut(string(body[i+len("\ntags: ["):]), "]")
			if slices.Contains(strings.Split(line, ", "), tag) {
				carrier = q
				break
			}
		}
	}
	if carrier < 0 {
		return "", fmt.Errorf("no profile carries tag %s", tag)
	}
	other := (carrier + 1) % profileCount(files)
	path := endpointsPath(remote)
	body, ok := files[path]
	if !ok {
		return "", fmt.Errorf("%s: no such file", path)
	}
	var b strings.Builder
	b.Write(body)
	// k such that 198.18.0.0 + 1 + k is 198.19.255.254 - n.
	k := 1<<17 - 3 - n
	writeEndpoint(&b, fmt.Sprintf("ep-added-%d", n), remote, fmt.Sprintf("caliadd%d", n), k,
		fmt.Sprintf("fd00:ffff::%x", n+1), carrier, other)
	files[path] = []byte(b.String())
	return path, nil
}

// ChangeProfileRule edits one rule of the first profile of host's first endpoint in files: the
// port of its `deny tcp` inbound rule goes up by one (22 → 23 …). It returns the one path it
// changed.
func ChangeProfileRule(files map[string][]byte, host string) (string, error) {
	a, _, _, err := firstProfiles(files, host)
	if err != nil {
		return "", err
	}
	path := profilePath(a)
	body := files[path]
	loc := denyPortRe.FindSubmatchIndex(body)
	if loc == nil {
		return "", fmt.Errorf("%s: no deny tcp rule of the generated shape", path)
	}
	port, _ := strconv.Atoi(string(body[loc[2]:loc[3]]))
	files[path] = slices.Concat(body[:loc[2]], []byte(strconv.Itoa(port%65535+1)), body[loc[3]:])
	return path, nil
}
