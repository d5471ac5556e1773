package reconcile

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"regexp"
	"slices"
	"strconv"
	"testing"

	"github.com/reconcile-dev/reconcile/reconcile/internal/repogen"
)

// randomPR applies n random edits to the files of a generated shape (text edits, as a pull
// request makes them): profile tags, rule ports, tags and order, endpoint nets, MACs, states,
// hosts, profiles, deletions and reordering. It returns what it did.
func randomPR(rng *rand.Rand, files map[string][]byte, hosts, profiles, tags, n int) []string {
	var did []string
	paths := slices.Sorted(func(yield func(string) bool) {
		for p := range files {
			if !yield(p) {
				return
			}
		}
	})
	var eps, profs []string
	for _, p := range paths {
		if bytes.HasPrefix([]byte(p), []byte("endpoints/")) {
			eps = append(eps, p)
		} else {
			profs = append(profs, p)
		}
	}
	tag := func() string { return fmt.Sprintf("T%04d", rng.IntN(tags)) }
	prof := func() string { return fmt.Sprintf("P%04d", rng.IntN(profiles)) }
	// edit replaces the k-th match (at random) of re in file p by repl(match).
	edit := func(p string, re *regexp.Regexp, repl func(m []byte) []byte) bool {
		ms := re.FindAllIndex(files[p], -1)
		if len(ms) == 0 {
			return false
		}
		m := ms[rng.IntN(len(ms))]
		b := files[p]
		nb := append(append(append([]byte(nil), b[:m[0]]...), repl(b[m[0]:m[1]])...), b[m[1]:]...)
		files[p] = nb
		return true
	}
	for len(did) < n {
		ep, pf := eps[rng.IntN(len(eps))], profs[rng.IntN(len(profs))]
		var what string
		ok := false
		switch rng.IntN(14) {
		case 0:
			what = pf + ": a tag replaced"
			ok = edit(pf, regexp.MustCompile(`T\d{4}`), func([]byte) []byte { return []byte(tag()) })
		case 1:
			what = pf + ": tags list changed"
			ok = edit(pf, regexp.MustCompile(`(?m)^tags: \[.*\]$`), func([]byte) []byte {
				return []byte(fmt.Sprintf("tags: [%s, %s]", tag(), tag()))
			})
		case 2:
			what = pf + ": a port changed"
			ok = edit(pf, regexp.MustCompile(`dst_ports: \[\d+`), func([]byte) []byte {
				return []byte(fmt.Sprintf("dst_ports: [%d", 1+rng.IntN(30000)))
			})
		case 3:
			what = pf + ": two rules swapped"
			re := regexp.MustCompile(`(?m)^  - \{.*\}\n`)
			ms := re.FindAllIndex(files[pf], -1)
			if len(ms) >= 2 {
				i := rng.IntN(len(ms) - 1)
				a, b := ms[i], ms[i+1]
				src := files[pf]
				out := append([]byte(nil), src[:a[0]]...)
				out = append(out, src[b[0]:b[1]]...)
				out = append(out, src[a[0]:a[1]]...)
				out = append(out, src[b[1]:]...)
				files[pf], ok = out, true
			}
		case 4:
			what = ep + ": an ipv4 net changed"
			ok = edit(ep, regexp.MustCompile(`ipv4_nets: \[[^\]]*\]`), func([]byte) []byte {
				return []byte(fmt.Sprintf("ipv4_nets: [198.18.%d.%d/%d]", rng.IntN(4), rng.IntN(256), 30+rng.IntN(3)))
			})
		case 5:
			what = ep + ": an ipv6 net changed"
			ok = edit(ep, regexp.MustCompile(`ipv6_nets: \[[^\]]*\]`), func([]byte) []byte {
				return []byte(fmt.Sprintf("ipv6_nets: [\"fd00:%d::%d/%d\"]", rng.IntN(3), rng.IntN(8), 126+rng.IntN(3)))
			})
		case 6:
			what = ep + ": a state flipped"
			ok = edit(ep, regexp.MustCompile(`state: (in)?active`), func(m []byte) []byte {
				if bytes.Contains(m, []byte("inactive")) {
					return []byte("state: active")
				}
				return []byte("state: inactive")
			})
		case 7:
			what = ep + ": an endpoint moved host"
			ok = edit(ep, regexp.MustCompile(`host: node-\d+`), func([]byte) []byte {
				return []byte(fmt.Sprintf("host: node-%d", 1+rng.IntN(hosts+1)))
			})
		case 8:
			what = ep + ": profiles changed"
			ok = edit(ep, regexp.MustCompile(`profile_ids: \[[^\]]*\]`), func([]byte) []byte {
				if rng.IntN(3) == 0 {
					return []byte("profile_ids: [" + prof() + "]")
				}
				return []byte("profile_ids: [" + prof() + ", " + prof() + "]")
			})
		case 9:
			what = ep + ": a mac changed"
			ok = edit(ep, regexp.MustCompile(`mac: "[^"]*"`), func([]byte) []byte {
				return []byte(fmt.Sprintf(`mac: "ee:ee:ee:00:00:%02x"`, rng.IntN(256)))
			})
		case 10:
			what = ep + ": an endpoint deleted"
			ok = edit(ep, regexp.MustCompile(`(?m)^  - id: .*\n(    .*\n)*`), func([]byte) []byte { return nil })
		case 11:
			what = pf + ": a src_tag changed"
			ok = edit(pf, regexp.MustCompile(`(src|dst)_tag: T\d{4}`), func(m []byte) []byte {
				return []byte(string(m[:9]) + tag())
			})
		case 12:
			what = ep + ": an ipv4 net added"
			ok = edit(ep, regexp.MustCompile(`ipv4_nets: \[`), func(m []byte) []byte {
				return []byte(fmt.Sprintf("ipv4_nets: [198.18.%d.%d/32, ", rng.IntN(4), rng.IntN(256)))
			})
		default:
			what = pf + ": a rule's action flipped"
			ok = edit(pf, regexp.MustCompile(`action: (allow|deny)`), func(m []byte) []byte {
				if bytes.Contains(m, []byte("allow")) {
					return []byte("action: deny")
				}
				return []byte("action: allow")
			})
		}
		if ok {
			did = append(did, what)
		}
	}
	return did
}

// Random pull requests on generated repositories: for every host of either tree (and one of
// neither), PlanAllHosts lists the host exactly when plan --against --host does, with the same
// plan. Pull requests whose head does not validate are skipped (counted).
func TestPlanAllHostsRandomPullRequests(t *testing.T) {
	ctx := context.Background()
	const hosts, profiles, tags = 5, 12, 8
	rounds := 40
	if s := os.Getenv("RECONCILE_RANDOM_PR_ROUNDS"); s != "" {
		rounds, _ = strconv.Atoi(s)
	}
	if testing.Short() {
		rounds = 8
	}
	shape := repogen.Shape{Hosts: hosts, PerHost: 4, Profiles: profiles, Tags: tags}
	var valid, changedHosts, compared int
	for round := range rounds {
		rng := rand.New(rand.NewPCG(uint64(round), 12))
		files, err := shape.Files(uint64(round))
		if err != nil {
			t.Fatal(err)
		}
		base, head := t.TempDir(), t.TempDir()
		if err := repogen.WriteFiles(base, files); err != nil {
			t.Fatal(err)
		}
		did := randomPR(rng, files, hosts, profiles, tags, 1+rng.IntN(3))
		if err := repogen.WriteFiles(head, files); err != nil {
			t.Fatal(err)
		}
		a, err := New(Config{Dir: head})
		if err != nil {
			t.Fatal(err)
		}
		res, err := a.PlanAllHosts(ctx, base, PlanAllHostsOptions{Digests: true})
		a.Close()
		if err != nil {
			continue // an invalid head (a duplicate interface or address, …)
		}
		valid++
		got := map[string]HostPlan{}
		for _, h := range res.Hosts {
			got[h.Host] = h
		}
		for n := 1; n <= hosts+2; n++ {
			host := fmt.Sprintf("node-%d", n)
			one, err := New(Config{Dir: head, Host: host})
			if err != nil {
				t.Fatal(err)
			}
			pr, err := one.PlanAgainst(ctx, base)
			one.Close()
			if err != nil {
				t.Fatalf("round %d %v: %s: %v", round, did, host, err)
			}
			compared++
			hp, ok := got[host]
			if pr.Plan.Empty() == ok {
				t.Errorf("round %d %v: %s: plan --against empty %v, listed by --all-hosts %v", round, did, host, pr.Plan.Empty(), ok)
				continue
			}
			if !ok {
				continue
			}
			changedHosts++
			w, _ := json.Marshal(pr.Plan)
			g, _ := json.Marshal(hp.Plan)
			if !bytes.Equal(w, g) {
				t.Errorf("round %d %v: %s: plans differ:\n%s\n%s", round, did, host, w, g)
			}
		}
	}
	t.Logf("%d of %d pull requests valid; %d host plans compared, %d non-empty", valid, rounds, compared, changedHosts)
	if valid < rounds/3 || changedHosts == 0 {
		t.Errorf("too few valid pull requests (%d of %d) or changes (%d): the test proves little", valid, rounds, changedHosts)
	}
}
