package main

import (
	"bytes"
	"fmt"
	"maps"
	"path/filepath"
	"regexp"
	"time"

	"github.com/reconcile-dev/reconcile/reconcile/internal/repogen"
)

// renameInterface renames the interface of host's first endpoint in files (a repository of a
// repogen.Shape, changed in place): "cali0" becomes "cali0r", a change of that host's ruleset
// alone (interfaces are local). It returns the path it changed.
func renameInterface(files map[string][]byte, host string) (string, error) {
	path := "endpoints/" + host + ".yaml"
	body, ok := files[path]
	old := []byte("\n    interface: cali0\n")
	if !ok || !bytes.Contains(body, old) {
		return "", fmt.Errorf("%s: no endpoint with interface cali0", path)
	}
	files[path] = bytes.Replace(body, old, []byte("\n    interface: cali0r\n"), 1)
	return path, nil
}

// summaryRe reads the summary line of plan --all-hosts: "N of M hosts change…" or "No host
// changes (M hosts compared)."
var summaryRe = regexp.MustCompile(`(?m)^(?:(\d+) of (\d+) hosts? changes?:|No host changes \((\d+) hosts? compared\))`)

// planAllHosts measures `plan --all-hosts --against <base>` (a pull request against its base,
// both plain directories: the base is the shape as generated) for two pull requests: one that
// changes two hosts' rulesets (an interface renamed on node-1 and on node-2) and one that
// changes a tag set many hosts' rules name (repogen.AddRemoteEndpoint); each is compared with
// validate of the same repository (every host compiled, measured before). Then the old CI's
// way, one `plan --against --host H` process per host, extrapolated from three sample hosts.
func (sr *shapeRun) planAllHosts(validate *measured) error {
	b, bin := sr.b, sr.b.cfg.bin
	base := filepath.Join(sr.dir, "pr-base")
	if err := repogen.WriteFiles(base, sr.files); err != nil {
		return err
	}
	prs := []struct {
		step   string
		mutate func(map[string][]byte) error
	}{
		{"PR renaming 2 interfaces", func(f map[string][]byte) error {
			for _, h := range []string{"node-1", "node-2"} {
				if _, err := renameInterface(f, h); err != nil {
					return err
				}
			}
			return nil
		}},
		{"PR adding 1 endpoint to a widely used tag", func(f map[string][]byte) error {
			_, err := repogen.AddRemoteEndpoint(f, "node-1", "node-2", 0)
			return err
		}},
	}
	var head string
	for i, pr := range prs {
		files := maps.Clone(sr.files)
		if err := pr.mutate(files); err != nil {
			return err
		}
		head = filepath.Join(sr.dir, fmt.Sprintf("pr-head-%d", i+1))
		if err := repogen.WriteFiles(head, files); err != nil {
			return err
		}
		var changed string
		m, err := b.repeat(func() (sample, error) {
			out, err := b.r.run(true, []int{2}, bin, "plan", "--all-hosts", "--dir", head, "--against", base,
				"--table", b.cfg.table, "--state-dir", sr.scratch, "--detailed-exitcode")
			if err == nil {
				changed = summaryOf(out.stdout)
			}
			return out, err
		})
		if err != nil {
			return err
		}
		sr.add("plan --all-hosts, "+pr.step, m, "validate", validate, 0, changed)
	}
	// The old way: one process per host, each loading both trees (of the last pull request).
	samples := []string{"node-1", fmt.Sprintf("node-%d", max(sr.s.Hosts/2, 1)), fmt.Sprintf("node-%d", sr.s.Hosts)}
	var sum sample
	for _, h := range samples {
		out, err := b.r.run(false, []int{0, 2}, bin, "plan", "--dir", head, "--against", base, "--host", h,
			"--table", b.cfg.table, "--state-dir", sr.scratch, "--detailed-exitcode")
		if err != nil {
			return err
		}
		sum.wall += out.wall
		sum.user += out.user
		sum.sys += out.sys
		sum.maxRSSKiB = max(sum.maxRSSKiB, out.maxRSSKiB)
	}
	n := time.Duration(sr.s.Hosts)
	k := time.Duration(len(samples))
	old := &measured{sample: sample{wall: sum.wall / k * n, user: sum.user / k * n, sys: sum.sys / k * n, maxRSSKiB: sum.maxRSSKiB}, runs: len(samples)}
	sr.add(fmt.Sprintf("old CI: plan --against per host, × %d (extrapolated)", sr.s.Hosts), old, "validate", validate, 0,
		fmt.Sprintf("%s per host (mean of %v) × %d", dur(sum.wall/k), samples, sr.s.Hosts))
	return nil
}

// summaryOf is "N of M hosts change" from plan --all-hosts' output ("" when absent).
func summaryOf(out []byte) string {
	m := summaryRe.FindSubmatch(out)
	switch {
	case m == nil:
		return ""
	case m[1] != nil:
		return fmt.Sprintf("%s of %s hosts change", m[1], m[2])
	}
	return fmt.Sprintf("no host changes (%s compared)", m[3])
}
