package main

import (
	"errors"

	"github.com/reconcile-dev/reconcile/reconcile/source"
	"github.com/reconcile-dev/reconcile/reconcile/source/git"
)

// openSource returns the policy source named by --repo/--ref or --dir (default ".").
func (g *globals) openSource() (source.Source, error) {
	if g.repo != "" && g.dir != "" {
		return nil, errors.New("--repo and --dir are exclusive")
	}
	if g.repo != "" {
		s, err := git.New(git.Options{
			URL:         g.repo,
			Ref:         g.ref,
			CacheDir:    git.CacheDirFor(g.stateDir, g.repo),
			Verify:      g.git.verify,
			TrustedKeys: g.git.trustedKeys,
			AllowRewind: g.git.allowRewind,
			Logger:      g.sourceLogger(),
		})
		if err != nil {
			return nil, err
		}
		return s, nil
	}
	switch {
	case g.ref != "":
		return nil, errors.New("--ref needs --repo")
	case g.git.verify != "" && g.git.verify != "none":
		return nil, errors.New("--verify needs --repo: a plain directory has no signatures")
	case g.git.trustedKeys != "":
		return nil, errors.New("--trusted-keys needs --repo")
	}
	dir := g.dir
	if dir == "" {
		dir = "."
	}
	return source.Dir{Path: dir}, nil
}
