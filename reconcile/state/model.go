package state

import (
	"bufio"
	"bytes"
	"encoding/gob"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/reconcile-dev/reconcile/reconcile/internal/atomicfile"
	"github.com/reconcile-dev/reconcile/reconcile/nft"
)

// modelFormat is the version of the model file's encoding (gob of modelFile). Format 1 (the
// model inline, no checksum) is still read; a file of another version is not (LoadModel's
// error; the pass then reads the kernel).
const modelFormat = 2

// modelFile is the content of a model file: the model and the digest it was saved under.
// Format 2 holds the model as the gob of *nft.Ruleset in Body, guarded by Sum (CRC-32 IEEE of
// Body), and the compile key of the pass that wrote it (Key; see LoadModelUnder); format 1
// held Model inline.
type modelFile struct {
	Format int
	Digest string
	Key    string
	Sum    uint32
	Body   []byte
	Model  *nft.Ruleset // format 1 only
}

// modelStem is FileName without ".state.json": the common prefix of a record's files.
func modelStem(table, key string) string {
	return strings.TrimSuffix(FileName(table, key), ".state.json")
}

// Stem is FileName of table in the namespace key without ".state.json" ("reconcile",
// "reconcile@lab-a"): the name of the record's other files (model files, and the git clone's
// ref of the commit applied last, source.FetchOptions.AppliedKey).
func Stem(table, key string) string { return modelStem(table, key) }

// ModelFileName is the name, in the state directory, of the file holding the model of digest
// (nft.Ruleset.Digest, hex) for table in the namespace key: "<stem>.model-<first 12 hex
// digits of digest>.gob", stem being FileName without ".state.json". A digest shorter than 12
// characters is used whole.
func ModelFileName(table, key, digest string) string {
	return modelStem(table, key) + ".model-" + digest[:min(12, len(digest))] + ".gob"
}

// saveModel writes la.Model to its model file in dir, unless that file already exists (the name
// is the digest's: an existing file holds the same model, written atomically). It returns the
// file's name.
func saveModel(dir, table, key string, la *LastApplied) (string, error) {
	digest := la.RulesetDigest
	if digest == "" {
		digest = la.Model.Digest()
	}
	name := ModelFileName(table, key, digest)
	path := filepath.Join(dir, name)
	if la.ModelFile == name {
		if _, err := os.Stat(path); err == nil {
			return name, nil
		}
	}
	var body, b bytes.Buffer
	if err := gob.NewEncoder(&body).Encode(la.Model); err != nil {
		return "", fmt.Errorf("encode state model: %w", err)
	}
	mf := &modelFile{Format: modelFormat, Digest: digest, Key: la.CompileKey, Sum: crc32.ChecksumIEEE(body.Bytes()), Body: body.Bytes()}
	if err := gob.NewEncoder(&b).Encode(mf); err != nil {
		return "", fmt.Errorf("encode state model: %w", err)
	}
	if err := atomicfile.Write(path, b.Bytes(), 0o644); err != nil {
		return "", err
	}
	return name, nil
}

// IsModelFileOf reports whether name has the shape of a model file of table's record in the
// namespace key (ModelFileName: "<head name without .state.json>.model-<1 to 12 hex
// digits>.gob", a plain file name): the only names apply may move aside or remove. A head's
// model_file is read from disk and may name anything ("../x", the head itself, the git clone).
func IsModelFileOf(table, key, name string) bool {
	rest, ok := strings.CutPrefix(name, modelStem(table, key)+".model-")
	hex, ext := strings.CutSuffix(rest, ".gob")
	return ok && ext && len(hex) > 0 && len(hex) <= 12 && strings.Trim(hex, "0123456789abcdef") == ""
}

// removeModels removes the model files of table in the namespace key from dir, except keep,
// and the temporary files of this record's head, installed and model files that a process killed while
// writing them left (atomicfile's ".<name>.tmp-*"; the caller holds the table's lock, so no
// other process is writing them). Errors are ignored: a file left behind is removed by a later
// Save.
func removeModels(dir, table, key, keep string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	stem := regexp.QuoteMeta(modelStem(table, key))
	re := regexp.MustCompile(`^` + stem + `\.model-[0-9a-f]{1,12}\.gob$`)
	tmp := regexp.MustCompile(`^\.` + stem + `(\.state\.json|\.installed\.json|\.model-[0-9a-f]{1,12}\.gob)\.tmp-[0-9]+$`)
	for _, e := range entries {
		if n := e.Name(); n != keep && (re.MatchString(n) || tmp.MatchString(n)) {
			_ = os.Remove(filepath.Join(dir, n))
		}
	}
}

// ModelPresent reports whether the model can be had without the kernel: it is in memory
// (inline in a version 1 record, or set since), or ModelFile names a file that exists in the
// state directory (one stat; its content is checked only by LoadModel). A pass that would skip
// writing the record's model (the fast no-change pass) takes the full pass instead when it is
// false, so that a lost model file is written again.
func (la *LastApplied) ModelPresent() bool {
	if la == nil {
		return false
	}
	if la.Model != nil {
		return true
	}
	if la.ModelFile == "" || la.dir == "" || la.ModelFile != filepath.Base(la.ModelFile) || strings.HasPrefix(la.ModelFile, ".") {
		return false
	}
	_, err := os.Stat(filepath.Join(la.dir, la.ModelFile))
	return err == nil
}

// ErrNoModel is the error of LoadModel when the record names no model (wrapped).
var ErrNoModel = errors.New("the state record holds no model")

// LoadModel returns Model, reading it from ModelFile on first use (the record must have been
// read by Load, or saved by Save). Errors: ErrNoModel (wrapped) when there is none; the model
// file missing (fs.ErrNotExist, wrapped: a concurrent Save replaced it; read the record
// again), unreadable, of another format, or not of RulesetDigest (the file does not hold what
// the head says, or does not render to it in this program: the digest is computed again).
// Each names the file.
func (la *LastApplied) LoadModel() (*nft.Ruleset, error) {
	return la.LoadModelUnder("")
}

// LoadModelUnder is LoadModel, except that a model file written under compile key key (not
// "": the compile key this program gives la's revision, host and table; LastApplied.CompileKey)
// is not rendered again to check its digest (0.1 s for a ruleset of 100,000 set members):
// the same program wrote it, so its gob reads back exactly, and its checksum vouches for its
// bytes. Errors are LoadModel's.
func (la *LastApplied) LoadModelUnder(key string) (*nft.Ruleset, error) {
	if la == nil {
		return nil, ErrNoModel
	}
	if la.Model != nil {
		return la.Model, nil
	}
	if la.ModelFile == "" || la.dir == "" {
		return nil, ErrNoModel
	}
	if la.ModelFile != filepath.Base(la.ModelFile) || strings.HasPrefix(la.ModelFile, ".") {
		return nil, fmt.Errorf("state model file %q: not a file name of the state directory", la.ModelFile)
	}
	path := filepath.Join(la.dir, la.ModelFile)
	f, err := openRegular(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("state model file %q is missing: %w", path, err)
		}
		return nil, fmt.Errorf("read state model file %q: %w", path, err)
	}
	defer f.Close()
	var mf modelFile
	if err := gob.NewDecoder(bufio.NewReaderSize(f, 1<<16)).Decode(&mf); err != nil {
		return nil, fmt.Errorf("state model file %q is corrupt: %w", path, err)
	}
	if mf.Format == modelFormat {
		if crc32.ChecksumIEEE(mf.Body) != mf.Sum {
			return nil, fmt.Errorf("state model file %q is corrupt: checksum mismatch", path)
		}
		if err := gob.NewDecoder(bytes.NewReader(mf.Body)).Decode(&mf.Model); err != nil {
			return nil, fmt.Errorf("state model file %q is corrupt: %w", path, err)
		}
	}
	switch {
	case mf.Format != modelFormat && mf.Format != 1:
		return nil, fmt.Errorf("state model file %q has format %d, this program reads format %d", path, mf.Format, modelFormat)
	case mf.Model == nil || mf.Digest != la.RulesetDigest:
		return nil, fmt.Errorf("state model file %q holds ruleset %.12s, the record names %.12s", path, mf.Digest, la.RulesetDigest)
	case mf.Format == modelFormat && key != "" && mf.Key == key:
		// Written by this very program (see LoadModelUnder): its digest holds.
	case mf.Model.Digest() != mf.Digest:
		// A program whose model or canonical text differs from the writer's (gob fills what
		// it does not know with zeros): the model is not the one recorded.
		return nil, fmt.Errorf("state model file %q does not read back as ruleset %.12s (written by another version of reconcile?)", path, mf.Digest)
	}
	la.Model = mf.Model
	return la.Model, nil
}

// CheckModel checks, without decoding the model, that the model file the record names is
// there and holds what the head says: it reads the file, checks its format, its digest
// against RulesetDigest and (format 2) the CRC-32 of the encoded model; a format 1 file is
// decoded and its digest computed (LoadModel). nil when the model is in memory; ErrNoModel
// (wrapped) when the record names none; otherwise LoadModel's errors, naming the file. It
// costs one read of the file (4.6 MB for 9,740 rules), a tenth of LoadModel's decode.
func (la *LastApplied) CheckModel() error {
	if la == nil {
		return ErrNoModel
	}
	if la.Model != nil {
		return nil
	}
	if la.ModelFile == "" || la.dir == "" {
		return ErrNoModel
	}
	if la.ModelFile != filepath.Base(la.ModelFile) || strings.HasPrefix(la.ModelFile, ".") {
		return fmt.Errorf("state model file %q: not a file name of the state directory", la.ModelFile)
	}
	path := filepath.Join(la.dir, la.ModelFile)
	f, err := openRegular(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("state model file %q is missing: %w", path, fs.ErrNotExist)
		}
		return fmt.Errorf("read state model file %q: %w", path, err)
	}
	defer f.Close()
	var mf modelFile
	if err := gob.NewDecoder(bufio.NewReaderSize(f, 1<<16)).Decode(&mf); err != nil {
		return fmt.Errorf("state model file %q is corrupt: %w", path, err)
	}
	switch {
	case mf.Format == 1:
		_, err := la.LoadModel()
		return err
	case mf.Format != modelFormat:
		return fmt.Errorf("state model file %q has format %d, this program reads format %d", path, mf.Format, modelFormat)
	case crc32.ChecksumIEEE(mf.Body) != mf.Sum:
		return fmt.Errorf("state model file %q is corrupt: checksum mismatch", path)
	case mf.Digest != la.RulesetDigest:
		return fmt.Errorf("state model file %q holds ruleset %.12s, the record names %.12s", path, mf.Digest, la.RulesetDigest)
	}
	return nil
}
