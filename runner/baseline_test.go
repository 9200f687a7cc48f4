package runner

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestFileStore(t *testing.T) {
	ctx := context.Background()
	s := FileStore{Dir: filepath.Join(t.TempDir(), "baselines")}
	if _, err := s.Get(ctx, "main"); !errors.Is(err, ErrNoBaseline) {
		t.Fatalf("for a missing baseline, got %v, want ErrNoBaseline", err)
	}
	set := parseFile(t, "testdata/compare/old.txt")
	for _, name := range []string{"main", "feature/x"} {
		if err := s.Save(ctx, name, set); err != nil {
			t.Fatal(err)
		}
		got, err := s.Get(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range CompareSets(set, got, Options{}) {
			if c.Old.N != c.New.N || c.P < 0.99 || c.Old.Median != c.New.Median {
				t.Errorf("for %s %s, stored %+v, read back %+v", c.Name, c.Unit, c.Old, c.New)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(s.Dir, "feature%2Fx.txt")); err != nil {
		t.Errorf("baseline feature/x not stored as feature%%2Fx.txt: %v", err)
	}
	for _, bad := range []string{"", "../x", ".hidden", "a b", "a\x00"} {
		if err := s.Save(ctx, bad, set); err == nil {
			t.Errorf("for name %q, got no error", bad)
		}
	}
}
