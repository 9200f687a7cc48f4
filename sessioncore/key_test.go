package sessioncore

import (
	"errors"
	"strings"
	"testing"
)

func TestValidateKey(t *testing.T) {
	for _, tc := range []struct {
		key string
		ok  bool
	}{
		{"a", true},
		{"user_42-abc", true},
		{strings.Repeat("x", MaxKeyLen), true},
		{"", false},
		{strings.Repeat("x", MaxKeyLen+1), false},
		{"has space", false},
		{"slash/", false},
		{"dot.", false},
		{"é", false},
		{"nul\x00", false},
	} {
		err := ValidateKey(tc.key)
		if (err == nil) != tc.ok {
			t.Errorf("for %q, got %v, want ok=%v", tc.key, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidKey) {
			t.Errorf("for %q, got %v, want it to wrap ErrInvalidKey", tc.key, err)
		}
		if validKey(tc.key) != tc.ok {
			t.Errorf("for %q, validKey disagrees with ValidateKey", tc.key)
		}
	}
}

func TestNewID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := NewID()
		if len(id) != IDLen {
			t.Fatalf("for NewID, got %q (%d bytes), want %d bytes", id, len(id), IDLen)
		}
		if err := ValidateKey(id); err != nil {
			t.Fatalf("for NewID %q, got %v, want a valid key", id, err)
		}
		if seen[id] {
			t.Fatalf("for NewID, got %q twice", id)
		}
		seen[id] = true
	}
}

func FuzzValidateKey(f *testing.F) {
	for _, s := range []string{"a", "user_42-abc", "", "has space", strings.Repeat("z", 65), NewID()} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		err := ValidateKey(key)
		want := len(key) >= 1 && len(key) <= MaxKeyLen
		for _, c := range []byte(key) {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
				want = false
			}
		}
		if (err == nil) != want {
			t.Fatalf("for %q, got %v, want ok=%v", key, err, want)
		}
		if validKey(key) != want {
			t.Fatalf("for %q, validKey got %v, want %v", key, !want, want)
		}
		if err == nil {
			// A valid key starts a session under exactly that ID.
			r := newTestRegistry(t, Config{})
			s, err := r.Start(t.Context(), Spec{Key: key})
			if err != nil || s.ID() != key {
				t.Fatalf("for %q, Start got %v, %v", key, s, err)
			}
		}
	})
}
