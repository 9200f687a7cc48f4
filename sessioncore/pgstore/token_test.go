package pgstore

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"
)

var testKey = bytes.Repeat([]byte("k"), MinKeySize)

func testSigner(t testing.TB, key []byte) *Signer {
	t.Helper()
	s, err := NewSigner(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSignerRoundTrip(t *testing.T) {
	s := testSigner(t, testKey)
	exp := t0.Add(time.Hour)
	for _, id := range []string{"a", "player_42", strings.Repeat("x", 64), "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"} {
		tok := s.Sign(id, exp)
		got, err := s.Verify(tok, t0)
		if err != nil || got != id {
			t.Errorf("for a fresh token of %q, got %q, %v, want %q, nil", id, got, err, id)
		}
		if strings.ContainsAny(tok, "+/=") {
			t.Errorf("token %q is not unpadded base64url", tok)
		}
	}
	if n := len(s.Sign(strings.Repeat("x", 32), exp)); n != 99 {
		t.Errorf("for a 32-character ID, got a %d-character token, want 99", n)
	}
}

func TestSignerRefusesExpired(t *testing.T) {
	s := testSigner(t, testKey)
	exp := t0.Add(time.Minute)
	tok := s.Sign("sess", exp)
	for _, now := range []time.Time{exp, exp.Add(time.Nanosecond), exp.Add(24 * time.Hour)} {
		if _, err := s.Verify(tok, now); !errors.Is(err, ErrTokenExpired) {
			t.Errorf("at %s for a token expiring at %s, got %v, want ErrTokenExpired", now, exp, err)
		}
	}
	if _, err := s.Verify(tok, exp.Add(-time.Nanosecond)); err != nil {
		t.Errorf("just before expiry, got %v, want nil", err)
	}
}

func TestSignerRefusesForgedAndMalformed(t *testing.T) {
	s := testSigner(t, testKey)
	other := testSigner(t, bytes.Repeat([]byte("o"), MinKeySize))
	exp := t0.Add(time.Hour)
	good := s.Sign("victim", exp)
	p64, tag64, _ := strings.Cut(good, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(p64)

	// Same tag on a payload with another ID, or with a later expiry.
	renamed := append(payload[:tokenHeader:tokenHeader], "attacker"...)
	later := bytes.Clone(payload)
	later[8]++
	// The same key signing something that is not a token of this format.
	foreignFormat := append([]byte{9}, payload[1:]...)
	enc := base64.RawURLEncoding.EncodeToString

	tests := map[string]string{
		"other key":              other.Sign("victim", exp),
		"other id, same tag":     enc(renamed) + "." + tag64,
		"later expiry, same tag": enc(later) + "." + tag64,
		"unknown version":        enc(foreignFormat) + "." + enc(s.tag(foreignFormat)),
		"empty id":               enc(payload[:tokenHeader]) + "." + enc(s.tag(payload[:tokenHeader])),
		"truncated tag":          good[:len(good)-1],
		"tag dropped":            p64 + ".",
		"no separator":           p64 + tag64,
		"two separators":         good + ".x",
		"padding":                good + "=",
		"std base64":             strings.NewReplacer("-", "+", "_", "/").Replace(good) + "+/",
		"empty":                  "",
		"only dot":               ".",
		"huge":                   strings.Repeat("A", 10000) + "." + tag64,
	}
	for name, tok := range tests {
		if id, err := s.Verify(tok, t0); !errors.Is(err, ErrTokenInvalid) {
			t.Errorf("for %s (%q), got %q, %v, want ErrTokenInvalid", name, tok, id, err)
		}
	}
	// An expired forgery is invalid, not expired: nothing in it is believed.
	if _, err := s.Verify(other.Sign("victim", t0), t0.Add(time.Hour)); !errors.Is(err, ErrTokenInvalid) {
		t.Errorf("for an expired forged token, got %v, want ErrTokenInvalid", err)
	}
}

func TestNewSignerRejectsShortKey(t *testing.T) {
	if _, err := NewSigner(make([]byte, MinKeySize-1)); err == nil {
		t.Errorf("for a %d-byte key, got no error", MinKeySize-1)
	}
	key := bytes.Clone(testKey)
	s := testSigner(t, key)
	tok := s.Sign("id", t0.Add(time.Hour))
	key[0] ^= 1 // the signer keeps its own copy
	if _, err := s.Verify(tok, t0); err != nil {
		t.Errorf("after the caller changed its key slice, got %v, want nil", err)
	}
}

func TestSignPanicsOnBadID(t *testing.T) {
	s := testSigner(t, testKey)
	for _, id := range []string{"", strings.Repeat("x", maxSessionIDLen+1)} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("for a %d-byte ID, Sign did not panic", len(id))
				}
			}()
			s.Sign(id, t0)
		}()
	}
}

// FuzzVerify feeds arbitrary strings to Verify: it must never panic, must only return the
// two sentinel errors, and must accept only tokens that re-sign to themselves.
func FuzzVerify(f *testing.F) {
	s := testSigner(f, testKey)
	f.Add(s.Sign("seed", t0.Add(time.Hour)))
	f.Add(s.Sign("expired", t0.Add(-time.Hour)))
	f.Add("")
	f.Add(".")
	f.Add("AQAAAABpIZcwc2VlZA.")
	f.Add("not a token")
	f.Fuzz(func(t *testing.T, tok string) {
		id, err := s.Verify(tok, t0)
		switch {
		case err == nil:
			_, exp, perr := s.parse(tok)
			if perr != nil {
				t.Fatalf("Verify accepted %q but parse refused it: %v", tok, perr)
			}
			if re := s.Sign(id, exp); re != tok {
				t.Fatalf("Verify accepted %q, which is not the canonical token %q", tok, re)
			}
		case errors.Is(err, ErrTokenInvalid), errors.Is(err, ErrTokenExpired):
		default:
			t.Fatalf("for %q, got error %v, want ErrTokenInvalid or ErrTokenExpired", tok, err)
		}
	})
}

// FuzzSignVerify signs arbitrary IDs and expiries: every token must verify to its ID before
// its expiry and be expired at it.
func FuzzSignVerify(f *testing.F) {
	s := testSigner(f, testKey)
	f.Add("session", int64(1_800_000_000))
	f.Add("a.b.c", int64(0))
	f.Add("\x00\xff", int64(-1))
	f.Fuzz(func(t *testing.T, id string, unix int64) {
		if len(id) == 0 || len(id) > maxSessionIDLen || unix <= 0 || unix > 1<<40 {
			return
		}
		exp := time.Unix(unix, 0)
		tok := s.Sign(id, exp)
		if got, err := s.Verify(tok, exp.Add(-time.Second)); err != nil || got != id {
			t.Fatalf("for %q expiring %d, got %q, %v before expiry", id, unix, got, err)
		}
		if _, err := s.Verify(tok, exp); !errors.Is(err, ErrTokenExpired) {
			t.Fatalf("for %q expiring %d, got %v at expiry, want ErrTokenExpired", id, unix, err)
		}
	})
}
