package state

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// NetnsID identifies a network namespace within one boot: the kernel's boot id and the nsfs
// device and inode of the namespace (netns.Handle.Dev, Inode). The kernel reuses inodes once a
// namespace is gone and restarts them at boot, so an identity from another boot matches nothing.
type NetnsID struct {
	BootID string `json:"boot_id"`
	Dev    uint64 `json:"dev"`
	Ino    uint64 `json:"ino"`
}

// Locate returns the key (for Load and Path) of the record of table in the namespace id,
// whose names under /run/netns are names (sorted) and which is this process's own namespace
// when own is true. The key of a namespace must not move when it gains or loses a name: the
// record holds the commit applied last, which the git source's rewind and signature checks
// start from. In this order:
//  1. a record under one of its names, "" (when own) or "inode-N" written for this very
//     namespace (same boot, device and inode);
//  2. any other record of table in dir written for it (a name it has since lost);
//  3. a record under one of its names (the same name in another boot, or a namespace deleted
//     and made again under that name: the name is what persists);
//  4. when own and unnamed, the record "" written in another boot or before records carried
//     an identity (the host's record across a reboot), but not one written in this boot for
//     another namespace (two unnamed namespaces sharing the state directory): then "inode-N";
//  5. otherwise a new record under its first name, "" when own, or "inode-N".
//
// A record "" written in this boot for another namespace (the host's, when reconcile runs in a
// namespace by `ip netns exec` with the same state directory) is never taken. Step 2 reads the
// head of every record of table in dir; it runs only when step 1 finds nothing (the first pass
// in a namespace after a boot). Errors are those of reading dir.
func Locate(dir, table string, id NetnsID, names []string, own bool) (string, error) {
	candidates := append([]string(nil), names...)
	if own {
		candidates = append(candidates, "")
	}
	candidates = append(candidates, "inode-"+strconv.FormatUint(id.Ino, 10))
	heads := map[string]*head{}
	for _, key := range candidates {
		h, err := readHead(Path(dir, table, key))
		if err != nil {
			return "", err
		}
		heads[key] = h
		if h != nil && h.same(id) {
			return key, nil
		}
	}
	if key, ok, err := scanFor(dir, table, id, heads); err != nil || ok {
		return key, err
	}
	for _, key := range names {
		if heads[key] != nil {
			return key, nil
		}
	}
	if own && len(names) == 0 {
		if h := heads[""]; h != nil && h.ID != nil && h.ID.BootID == id.BootID {
			// Another namespace's record of this boot (two unnamed namespaces sharing the
			// state directory): this one gets a record of its own.
			return "inode-" + strconv.FormatUint(id.Ino, 10), nil
		}
	}
	return candidates[0], nil
}

// head is what Locate reads of a record file: its key and identity.
type head struct {
	Table string
	Netns string
	ID    *NetnsID
}

func (h *head) same(id NetnsID) bool {
	return h.ID != nil && h.ID.BootID != "" && *h.ID == id
}

// readHead reads the head of the record file at path (nil, nil when there is none): the
// top-level fields before the large ones, which Save writes first.
func readHead(path string) (*head, error) {
	f, err := openRegular(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := &head{}
	dec := json.NewDecoder(f)
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return h, nil // not a record: Load reports it
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return h, nil
		}
		var dst any
		switch t {
		case "table":
			dst = &h.Table
		case "netns":
			dst = &h.Netns
		case "netns_id":
			dst = &h.ID
		case "last_applied", "last_attempt", "history":
			return h, nil
		default:
			dst = &json.RawMessage{}
		}
		if err := dec.Decode(dst); err != nil {
			return h, nil
		}
	}
	return h, nil
}

// scanFor looks through the other records of table in dir for one written for id.
func scanFor(dir, table string, id NetnsID, seen map[string]*head) (string, bool, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	var keys []string
	for _, e := range entries {
		n := e.Name()
		if !strings.HasSuffix(n, ".state.json") || !e.Type().IsRegular() {
			continue
		}
		h, err := readHead(filepath.Join(dir, n))
		if err != nil || h == nil || h.Table != table || !h.same(id) {
			continue
		}
		if _, checked := seen[h.Netns]; checked || FileName(table, h.Netns) != n {
			continue
		}
		keys = append(keys, h.Netns)
	}
	if len(keys) == 0 {
		return "", false, nil
	}
	sort.Strings(keys)
	return keys[0], true, nil
}
