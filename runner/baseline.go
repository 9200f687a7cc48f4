package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// ErrNoBaseline is returned (wrapped) by a BaselineStore's Get when the name is not stored.
var ErrNoBaseline = errors.New("no such baseline")

// BaselineStore keeps named baselines ("main", "v1.2"): the Set of a run to compare later
// runs with. Implementations: FileStore (a directory in the repository), the HTTP store of
// cmd/benchd (a benchd server), and a database-backed one.
type BaselineStore interface {
	// Get returns the baseline called name, or an error wrapping ErrNoBaseline.
	Get(ctx context.Context, name string) (*Set, error)
	// Save stores set as the baseline called name, replacing any earlier one.
	Save(ctx context.Context, name string, set *Set) error
}

// CheckBaselineName returns an error unless name is a usable baseline name: non-empty, at
// most 200 bytes, no leading dot, no "..", and only letters, digits and . _ - / +.
func CheckBaselineName(name string) error {
	if name == "" || len(name) > 200 || strings.HasPrefix(name, ".") || strings.Contains(name, "..") {
		return fmt.Errorf("baseline name %q: want 1–200 characters, no leading dot and no \"..\" in it", name)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._-/+", r)) {
			return fmt.Errorf("baseline name %q: character %q not allowed (letters, digits, . _ - / +)", name, r)
		}
	}
	return nil
}

// FileStore keeps baselines as Go benchmark text files (NAME.txt, a "/" in NAME written as
// %2F) in Dir, so they can be committed and read by benchstat.
type FileStore struct {
	// Dir is the directory of the baseline files; it is created on the first Save.
	Dir string
}

var _ BaselineStore = FileStore{}

func (s FileStore) path(name string) string {
	return filepath.Join(s.Dir, url.PathEscape(name)+".txt")
}

// Get reads and parses the baseline file of name.
func (s FileStore) Get(ctx context.Context, name string) (*Set, error) {
	if err := CheckBaselineName(name); err != nil {
		return nil, err
	}
	p := s.path(name)
	data, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("reading baseline %s from %s: %w", name, s.Dir, ErrNoBaseline)
	}
	if err != nil {
		return nil, fmt.Errorf("reading baseline %s: %w", name, err)
	}
	set, err := Parse(bytes.NewReader(data), p)
	if err != nil {
		return nil, fmt.Errorf("parsing baseline %s: %w", name, err)
	}
	return set, nil
}

// Save writes set as the baseline file of name, atomically (a temporary file renamed).
func (s FileStore) Save(ctx context.Context, name string, set *Set) error {
	if err := CheckBaselineName(name); err != nil {
		return err
	}
	if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		return fmt.Errorf("saving baseline %s: %w", name, err)
	}
	var b bytes.Buffer
	if err := WriteGoBench(&b, set); err != nil {
		return fmt.Errorf("saving baseline %s: %w", name, err)
	}
	tmp, err := os.CreateTemp(s.Dir, ".baseline-*")
	if err != nil {
		return fmt.Errorf("saving baseline %s: %w", name, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b.Bytes()); err != nil {
		tmp.Close()
		return fmt.Errorf("saving baseline %s: %w", name, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("saving baseline %s: %w", name, err)
	}
	if err := os.Rename(tmp.Name(), s.path(name)); err != nil {
		return fmt.Errorf("saving baseline %s: %w", name, err)
	}
	return nil
}
