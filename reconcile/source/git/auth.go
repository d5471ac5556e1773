package git

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
)

// Environment variables read by AuthFromEnv.
const (
	EnvToken         = "RECONCILE_GIT_TOKEN"          // https: token (or password)
	EnvUsername      = "RECONCILE_GIT_USERNAME"       // https: user name for the token (default "git")
	EnvSSHKey        = "RECONCILE_SSH_KEY"            // ssh: private key file
	EnvSSHPassphrase = "RECONCILE_SSH_KEY_PASSPHRASE" // ssh: its passphrase
	EnvKnownHosts    = "RECONCILE_SSH_KNOWN_HOSTS"    // ssh: known_hosts files, ':'-separated
)

// AuthFromEnv builds the credentials for url:
//   - https: a token from RECONCILE_GIT_TOKEN (user RECONCILE_GIT_USERNAME, default "git"), else
//     the user and password written in the URL, else none;
//   - ssh (ssh:// or user@host:path): the key in RECONCILE_SSH_KEY (passphrase in
//     RECONCILE_SSH_KEY_PASSPHRASE), else the ssh agent (SSH_AUTH_SOCK), else ~/.ssh/id_ed25519,
//     id_ecdsa or id_rsa; host keys are always checked against RECONCILE_SSH_KNOWN_HOSTS, else
//     ~/.ssh/known_hosts and /etc/ssh/ssh_known_hosts;
//   - file:// and local paths: none.
func AuthFromEnv(url string, getenv func(string) string) (transport.AuthMethod, error) {
	ep, err := transport.NewEndpoint(url)
	if err != nil {
		return nil, fmt.Errorf("repository URL %q: %w", RedactURL(url), err)
	}
	switch ep.Protocol {
	case "http", "https":
		if tok := getenv(EnvToken); tok != "" {
			user := getenv(EnvUsername)
			if user == "" {
				user = "git"
			}
			return &githttp.BasicAuth{Username: user, Password: tok}, nil
		}
		if ep.User != "" || ep.Password != "" {
			return &githttp.BasicAuth{Username: ep.User, Password: ep.Password}, nil
		}
		return nil, nil
	case "ssh":
		return sshAuth(ep, getenv)
	}
	return nil, nil
}

func sshAuth(ep *transport.Endpoint, getenv func(string) string) (transport.AuthMethod, error) {
	user := ep.User
	if user == "" {
		user = "git"
	}
	home := getenv("HOME")
	var hostFiles []string
	if v := getenv(EnvKnownHosts); v != "" {
		hostFiles = filepath.SplitList(v)
	} else {
		for _, f := range []string{filepath.Join(home, ".ssh", "known_hosts"), "/etc/ssh/ssh_known_hosts"} {
			if home == "" && strings.HasPrefix(f, ".ssh") {
				continue
			}
			if _, err := os.Stat(f); err == nil {
				hostFiles = append(hostFiles, f)
			}
		}
	}
	if len(hostFiles) == 0 {
		return nil, fmt.Errorf("ssh: no known_hosts file to check the host key of %q; set %s", ep.Host, EnvKnownHosts)
	}
	hostKeys, err := gitssh.NewKnownHostsCallback(hostFiles...)
	if err != nil {
		return nil, fmt.Errorf("ssh known_hosts: %w", err)
	}

	if key := getenv(EnvSSHKey); key != "" {
		pk, err := gitssh.NewPublicKeysFromFile(user, key, getenv(EnvSSHPassphrase))
		if err != nil {
			return nil, fmt.Errorf("ssh key %q: %w", key, err)
		}
		pk.HostKeyCallback = hostKeys
		return pk, nil
	}
	if getenv("SSH_AUTH_SOCK") != "" {
		a, err := gitssh.NewSSHAgentAuth(user)
		if err != nil {
			return nil, fmt.Errorf("ssh agent: %w", err)
		}
		a.HostKeyCallback = hostKeys
		return a, nil
	}
	if home != "" {
		for _, name := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
			f := filepath.Join(home, ".ssh", name)
			if _, err := os.Stat(f); err != nil {
				continue
			}
			pk, err := gitssh.NewPublicKeysFromFile(user, f, getenv(EnvSSHPassphrase))
			if err != nil {
				return nil, fmt.Errorf("ssh key %q: %w", f, err)
			}
			pk.HostKeyCallback = hostKeys
			return pk, nil
		}
	}
	return nil, errors.New("ssh: no private key; set " + EnvSSHKey + " or run an ssh agent")
}
