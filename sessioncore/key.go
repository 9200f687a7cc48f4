package sessioncore

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
)

// MaxKeyLen is the longest session key accepted, in bytes.
const MaxKeyLen = 64

// ErrInvalidKey is returned (wrapped) for a session key that is empty, longer than MaxKeyLen
// or contains a byte outside [A-Za-z0-9_-].
var ErrInvalidKey = errors.New("invalid session key")

// keyChars marks the bytes allowed in a key.
var keyChars = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	t['_'], t['-'] = true, true
	return t
}()

// ValidateKey reports whether key is a valid session key: 1 to MaxKeyLen bytes of
// [A-Za-z0-9_-]. It returns nil for a valid key and an error wrapping ErrInvalidKey otherwise.
func ValidateKey(key string) error {
	if len(key) == 0 {
		return fmt.Errorf("validating key: empty: %w", ErrInvalidKey)
	}
	if len(key) > MaxKeyLen {
		return fmt.Errorf("validating key: %d bytes, at most %d: %w", len(key), MaxKeyLen, ErrInvalidKey)
	}
	for i := 0; i < len(key); i++ {
		if !keyChars[key[i]] {
			return fmt.Errorf("validating key: byte %d is %q: %w", i, key[i], ErrInvalidKey)
		}
	}
	return nil
}

// validKey is ValidateKey without building an error, for hot paths.
func validKey(key string) bool {
	if len(key) == 0 || len(key) > MaxKeyLen {
		return false
	}
	for i := 0; i < len(key); i++ {
		if !keyChars[key[i]] {
			return false
		}
	}
	return true
}

// IDLen is the length of a generated session ID in bytes.
const IDLen = 22

// NewID returns a random session ID: 16 bytes from crypto/rand in unpadded base64url, 22
// characters, always a valid key.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never returns an error (Go ≥ 1.24).
	return base64.RawURLEncoding.EncodeToString(b[:])
}
