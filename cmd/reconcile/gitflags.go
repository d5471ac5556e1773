package main

import (
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/reconcile-dev/reconcile/reconcile"
)

// gitFlags are the flags of the git source (docs/GITOPS.md).
type gitFlags struct {
	verify      string
	trustedKeys string
	allowRewind bool
	// fetchTimeout bounds one fetch of the source (reconcile.Config.FetchTimeout).
	fetchTimeout time.Duration
}

// addGitFlags registers --verify, --trusted-keys, --allow-rewind and --fetch-timeout on the
// root's persistent flags.
func addGitFlags(pf *pflag.FlagSet, f *gitFlags) {
	pf.StringVar(&f.verify, "verify", "none", "signature check of --repo commits: none, head (the commit to apply) or all (every commit since the last applied one)")
	pf.StringVar(&f.trustedKeys, "trusted-keys", "", "file of armored OpenPGP public keys whose commit signatures --verify accepts")
	pf.BoolVar(&f.allowRewind, "allow-rewind", false, "apply a commit that does not descend from the last applied one (force-push backwards, rewritten history)")
	pf.DurationVar(&f.fetchTimeout, "fetch-timeout", reconcile.DefaultFetchTimeout, "longest wait for one fetch of --repo (connect, fetch, read the commit; also status's source head); then the pass fails with reason timeout and the kernel keeps its ruleset")
}

// sourceLogger is the logger handed to the git source, following --log-format and --log-level.
func (g *globals) sourceLogger() *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(strings.ToUpper(g.logLevel))); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	w := g.stderr
	if w == nil {
		w = io.Discard
	}
	if g.logFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
