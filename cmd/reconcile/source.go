package main

import (
	"errors"

	"github.com/reconcile-dev/reconcile/reconcile/source"
)

// openSource returns the policy source named by --repo/--ref or --dir (default ".").
func (g *globals) openSource() (source.Source, error) {
	if g.repo != "" && g.dir != "" {
		return nil, errors.New("--repo and --dir are exclusive")
	}
	if g.repo != "" {
		return nil, errors.New("--repo is not supported yet")
	}
	dir := g.dir
	if dir == "" {
		dir = "."
	}
	return source.Dir{Path: dir}, nil
}
