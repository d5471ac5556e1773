package schema

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/reconcile-dev/reconcile/reconcile/buildinfo"
)

// This file is the decode cache: what the per-file pass of a load learned from one file
// (fileResult: its objects with their positions, and its file-local errors), kept on disk
// between loads, so that a load decodes and validates only the files that changed since the
// last one. The cross-file checks still run on every load, on all the results.

// decoderVersion names the output of the per-file pass. Bump it with any change to what
// decoding or file-local validation produce (a message, a position, a field, a rule): entries
// of another version are never read. The running build (buildinfo.ID) is part of the key as
// well.
const decoderVersion = "schema-decode/1"

// Bounds of a DecodeCache, set by this program (a fleet repository of 2,400 files stores
// about 2,400 entries of 4-40 KB; the bounds leave room for a few revisions of a repository
// several times larger).
const (
	// DefaultCacheEntries is the most entries a DecodeCache keeps.
	DefaultCacheEntries = 20000
	// DefaultCacheBytes is the most bytes a DecodeCache's entries take together (512 MiB).
	DefaultCacheBytes = 512 << 20
)

// cacheMagic starts every entry file.
const cacheMagic = "RCDC1\n"

// entryExt is the extension of entry files; temporary files start with tmpPrefix.
const (
	entryExt  = ".entry"
	tmpPrefix = ".tmp-"
)

// DecodeCache is a directory of decoded repository files, keyed by the file's path, its
// content (a git blob id, or the sha256 of the bytes) and the decoder's version. It is safe
// for concurrent use; loads through one cache run one at a time. Entries are written
// atomically (a temporary file renamed); an entry that does not read back (truncated, bit
// flips: a CRC-32 guards each) is ignored and the file decoded again. The entries of a load's
// misses are encoded during the load and written after it, in the background (a first load
// returns without waiting for thousands of file writes); the next load, Stats and Wait wait
// for them. A process that ends before they are written leaves some entries out (misses next
// time), never a torn one. After a load that wrote entries, the oldest-written entries not
// used by that load are removed until at most MaxEntries entries of at most MaxBytes bytes
// remain.
type DecodeCache struct {
	dir     string
	version string
	// MaxEntries and MaxBytes bound the directory (DefaultCacheEntries, DefaultCacheBytes).
	MaxEntries int
	MaxBytes   int64

	load  sync.Mutex // one load at a time, held until its entries are written
	mu    sync.Mutex
	used  map[string]bool // entry names of the current load
	stats CacheStats
	// pending are the entries of the current load's misses, written after the load.
	pending []pendingEntry
}

// pendingEntry is an encoded entry (header, result, CRC) to be written as file name.
type pendingEntry struct {
	name string
	data []byte
}

// CacheStats counts what the last load through a DecodeCache did with its files.
type CacheStats struct {
	// Hits are files taken from the cache; Misses files decoded (and stored).
	Hits, Misses int
	// Corrupt are entries that did not read back (decoded again and rewritten).
	Corrupt int
	// Evicted are entries removed to keep the bounds.
	Evicted int
}

// OpenDecodeCache opens (creating it, mode 0700) the cache directory dir, e.g.
// "<state-dir>/cache/decode". Entries are keyed by the running build (buildinfo.ID): a build
// that cannot be identified gets an error, and no cache, rather than another build's entries.
func OpenDecodeCache(dir string) (*DecodeCache, error) {
	build := buildinfo.ID()
	if build == "" {
		return nil, errors.New("decode cache: the running build cannot be identified (no Go build id, no clean VCS revision)")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	return &DecodeCache{dir: dir, version: decoderVersion + "\x00" + build,
		MaxEntries: DefaultCacheEntries, MaxBytes: DefaultCacheBytes}, nil
}

// Stats returns the counts of the last load through c, once its entries are written and the
// cache evicted (it waits for them, see Wait).
func (c *DecodeCache) Stats() CacheStats {
	c.Wait()
	return c.Counts()
}

// Counts is Stats without waiting for the last load's entries to be written: Hits, Misses
// and Corrupt are final when the load has returned; Evicted may still be 0.
func (c *DecodeCache) Counts() CacheStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

// Wait waits until the entries of the last load through c are written and the cache
// evicted (they are written in the background after LoadCached returns).
func (c *DecodeCache) Wait() {
	c.load.Lock()
	//lint:ignore SA2001 the lock is taken only to wait for the writer holding it
	c.load.Unlock()
}

// LoadCached is LoadFiles with the per-file pass taken from the decode cache c where it holds
// a file, and stored into it otherwise (c nil: LoadFiles). ids maps a path to an id of its
// content, such as its git blob id ("sha1:<hex>", the tree gives it without reading the
// blob); the content of a path without one is hashed (sha256). The repository and errors are
// exactly those of LoadFiles.
func LoadCached(files map[string][]byte, refused Errors, ids map[string]string, c *DecodeCache) (*Repository, Errors) {
	return LoadCachedReading(files, refused, ids, c, nil)
}

// LoadCachedReading is LoadCached where the content of some files was left out (nil in
// files, see ReadFSSkipping) because c held their entries (Has): read returns the content of
// such a path p when its entry turns out missing or damaged after all; a read error is the
// error "p: cannot be read: ..." of the load. The repository and errors are otherwise those of
// LoadCached. read nil: every content is in files.
func LoadCachedReading(files map[string][]byte, refused Errors, ids map[string]string, c *DecodeCache, read func(p string) ([]byte, error)) (*Repository, Errors) {
	if c == nil {
		if read != nil {
			files = readAll(files, read)
		}
		return loadFiles(files, refused, nil, nil, nil)
	}
	c.load.Lock()
	c.mu.Lock()
	c.used = make(map[string]bool, len(files))
	c.stats = CacheStats{}
	c.pending = nil
	c.mu.Unlock()
	repo, errs := loadFiles(files, refused, ids, c, read)
	c.mu.Lock()
	pending := c.pending
	c.pending = nil
	c.mu.Unlock()
	if len(pending) == 0 {
		c.evict()
		c.load.Unlock()
		return repo, errs
	}
	// The entries are written while the caller goes on (compiles, applies); c.load is held
	// until they are, so the next load reads them.
	go func() {
		defer c.load.Unlock()
		for _, e := range pending {
			c.write(e)
		}
		c.evict()
	}()
	return repo, errs
}

// readAll returns files with every nil content read with read (an unreadable one stays nil:
// decoded as empty, and reported by its read error).
func readAll(files map[string][]byte, read func(p string) ([]byte, error)) map[string][]byte {
	out := make(map[string][]byte, len(files))
	for p, b := range files {
		if b == nil {
			b, _ = read(p)
		}
		out[p] = b
	}
	return out
}

// Has reports whether the cache holds an entry for path p of content id (a git blob id,
// "sha1:<hex>"; "" is never held: the content would have to be hashed). The entry may still
// turn out damaged when read (LoadCachedReading reads the file then).
func (c *DecodeCache) Has(p, id string) bool {
	if c == nil || id == "" {
		return false
	}
	c.Wait() // the entries of the last load may still be being written
	fi, err := os.Stat(filepath.Join(c.dir, c.name(p, nil, id)))
	return err == nil && fi.Mode().IsRegular()
}

// name returns the entry file name of path p with content data (id: its content id, or "").
func (c *DecodeCache) name(p string, data []byte, id string) string {
	if id == "" {
		sum := sha256.Sum256(data)
		id = "sha256:" + hex.EncodeToString(sum[:])
	}
	h := sha256.New()
	h.Write([]byte(c.version))
	h.Write([]byte{0})
	h.Write([]byte(p))
	h.Write([]byte{0})
	h.Write([]byte(id))
	return hex.EncodeToString(h.Sum(nil)) + entryExt
}

// result returns the per-file pass of p: from the cache, or decoded and stored.
func (c *DecodeCache) result(p string, data []byte, id string, read func(string) ([]byte, error)) *fileResult {
	if data == nil && read != nil && id == "" {
		data = readOrNil(p, read)
	}
	name := c.name(p, data, id)
	fr, corrupt := c.get(name, p)
	c.mu.Lock()
	c.used[name] = true
	switch {
	case fr != nil:
		c.stats.Hits++
	case corrupt:
		c.stats.Corrupt++
		c.stats.Misses++
	default:
		c.stats.Misses++
	}
	c.mu.Unlock()
	if fr != nil {
		return fr
	}
	if data == nil && read != nil {
		var err error
		if data, err = read(p); err != nil {
			return unreadableFile(p, err) // not stored
		}
	}
	fr = decodeFile(p, data)
	c.put(name, p, fr)
	return fr
}

// readOrNil is read(p), nil on error.
func readOrNil(p string, read func(string) ([]byte, error)) []byte {
	b, _ := read(p)
	return b
}

// unreadableFile is the per-file result of a file whose content could not be read.
func unreadableFile(p string, err error) *fileResult {
	return &fileResult{Errs: Errors{{Path: showPath(p), Msg: "cannot be read: " + err.Error()}}}
}

// put encodes the entry name of path p now (fr is not read after the load: the repository
// built of it may change) and queues it to be written after the load.
func (c *DecodeCache) put(name, p string, fr *fileResult) {
	b := encodeResult(c.header(make([]byte, 0, 4096), p), fr)
	b = binary.LittleEndian.AppendUint32(b, crc32.ChecksumIEEE(b))
	c.mu.Lock()
	c.pending = append(c.pending, pendingEntry{name, b})
	c.mu.Unlock()
}

// header is the start of the entry of path p: the magic, the version and the path.
func (c *DecodeCache) header(b []byte, p string) []byte {
	b = append(b, cacheMagic...)
	b = binary.AppendUvarint(b, uint64(len(c.version)))
	b = append(b, c.version...)
	b = binary.AppendUvarint(b, uint64(len(p)))
	return append(b, p...)
}

// get reads the entry name of path p; nil when there is none or it does not read back
// (corrupt true: it exists but is damaged or not this version's).
func (c *DecodeCache) get(name, p string) (fr *fileResult, corrupt bool) {
	b, err := os.ReadFile(filepath.Join(c.dir, name))
	if err != nil {
		return nil, false
	}
	head := c.header(nil, p)
	if len(b) < len(head)+4 || !bytes.Equal(b[:len(head)], head) {
		return nil, true
	}
	body, sum := b[:len(b)-4], b[len(b)-4:]
	if crc32.ChecksumIEEE(body) != binary.LittleEndian.Uint32(sum) {
		return nil, true
	}
	fr, err = decodeResult(body[len(head):])
	if err != nil {
		return nil, true
	}
	return fr, false
}

// write stores the entry e atomically (a temporary file renamed); a failure to write leaves
// the cache without it (the file is decoded again next time).
func (c *DecodeCache) write(e pendingEntry) {
	f, err := os.CreateTemp(c.dir, tmpPrefix+"*")
	if err != nil {
		return
	}
	_, err = f.Write(e.data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), filepath.Join(c.dir, e.name))
	}
	if err != nil {
		os.Remove(f.Name())
	}
}

// evict keeps the bounds after a load that stored entries: it removes the oldest-written
// entries that the load did not use, and temporary files left by a crash (older than an hour).
func (c *DecodeCache) evict() {
	c.mu.Lock()
	wrote := c.stats.Misses > 0
	used := c.used
	c.used = nil
	c.mu.Unlock()
	if !wrote {
		return
	}
	entries, err := os.ReadDir(c.dir)
	if err != nil {
		return
	}
	type entry struct {
		name string
		size int64
		time time.Time
	}
	var all []entry
	var total int64
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || !info.Mode().IsRegular() {
			continue
		}
		if strings.HasPrefix(e.Name(), tmpPrefix) {
			if time.Since(info.ModTime()) > time.Hour {
				os.Remove(filepath.Join(c.dir, e.Name()))
			}
			continue
		}
		if !strings.HasSuffix(e.Name(), entryExt) {
			continue
		}
		all = append(all, entry{e.Name(), info.Size(), info.ModTime()})
		total += info.Size()
	}
	if len(all) <= c.MaxEntries && total <= c.MaxBytes {
		return
	}
	slices.SortFunc(all, func(a, b entry) int { return a.time.Compare(b.time) })
	n, evicted := len(all), 0
	for _, e := range all {
		if n <= c.MaxEntries && total <= c.MaxBytes {
			break
		}
		if used[e.name] {
			continue
		}
		if err := os.Remove(filepath.Join(c.dir, e.name)); err != nil && !os.IsNotExist(err) {
			continue
		}
		n--
		total -= e.size
		evicted++
	}
	c.mu.Lock()
	c.stats.Evicted = evicted
	c.mu.Unlock()
}
