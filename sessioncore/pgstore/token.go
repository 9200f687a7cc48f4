package pgstore

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrTokenInvalid is returned by [Signer.Verify] for a malformed, forged or tampered token.
var ErrTokenInvalid = errors.New("pgstore: invalid reconnect token")

// ErrTokenExpired is returned by [Signer.Verify] for an authentic token past its expiry.
var ErrTokenExpired = errors.New("pgstore: reconnect token expired")

// MinKeySize is the shortest HMAC key [NewSigner] accepts, in bytes.
const MinKeySize = 32

// tokenVersion is the first payload byte; a new format gets a new version.
const tokenVersion = 1

// tokenHeader is the version byte plus the 8-byte big-endian expiry in Unix seconds.
const tokenHeader = 1 + 8

// maxSessionIDLen bounds the session ID inside a token, so Verify's work is bounded.
const maxSessionIDLen = 256

var b64 = base64.RawURLEncoding.Strict()

// Signer issues and checks reconnect tokens: a session ID and an expiry, signed with
// HMAC-SHA256. A token is "<payload>.<tag>", both base64url without padding; the payload is a
// version byte, the expiry (Unix seconds, big-endian uint64) and the session ID. A token for
// a 32-character ID is 99 characters long. Tokens are bearer credentials: they are not
// encrypted (the ID is readable) and cannot be revoked before they expire, except by
// deleting the session or changing the key. A Signer is safe for concurrent use.
type Signer struct {
	key []byte
}

// NewSigner returns a Signer using a copy of key, which must be at least [MinKeySize] bytes
// of secret random data.
func NewSigner(key []byte) (*Signer, error) {
	if len(key) < MinKeySize {
		return nil, fmt.Errorf("creating a token signer: key is %d bytes, want at least %d", len(key), MinKeySize)
	}
	return &Signer{key: append([]byte(nil), key...)}, nil
}

// Sign returns a token for sessionID that [Signer.Verify] accepts until expiresAt (truncated
// to the second). sessionID must be 1–256 bytes; Sign panics otherwise, as that is a
// programming error (session keys are 1–64 characters).
func (s *Signer) Sign(sessionID string, expiresAt time.Time) string {
	if len(sessionID) == 0 || len(sessionID) > maxSessionIDLen {
		panic(fmt.Sprintf("pgstore: signing a token for a session ID of %d bytes", len(sessionID)))
	}
	payload := make([]byte, tokenHeader+len(sessionID))
	payload[0] = tokenVersion
	binary.BigEndian.PutUint64(payload[1:], uint64(expiresAt.Unix()))
	copy(payload[tokenHeader:], sessionID)
	tag := s.tag(payload)
	out := make([]byte, 0, b64.EncodedLen(len(payload))+1+b64.EncodedLen(len(tag)))
	out = b64.AppendEncode(out, payload)
	out = append(out, '.')
	out = b64.AppendEncode(out, tag)
	return string(out)
}

// Verify checks token and returns the session ID it was signed for. It returns
// [ErrTokenInvalid] (wrapped) for a token that is malformed or not signed with this key, and
// [ErrTokenExpired] for an authentic token whose expiry is at or before now. The tag is
// compared in constant time, before anything in the payload is believed.
func (s *Signer) Verify(token string, now time.Time) (string, error) {
	id, exp, err := s.parse(token)
	if err != nil {
		return "", err
	}
	if !now.Before(exp) {
		return "", fmt.Errorf("verifying a reconnect token for session %q: expired at %s: %w",
			id, exp.UTC().Format(time.RFC3339), ErrTokenExpired)
	}
	return id, nil
}

// parse decodes token and checks its tag; it returns the session ID and expiry.
func (s *Signer) parse(token string) (string, time.Time, error) {
	invalid := func(why string) (string, time.Time, error) {
		return "", time.Time{}, fmt.Errorf("verifying a reconnect token: %s: %w", why, ErrTokenInvalid)
	}
	if len(token) > b64.EncodedLen(tokenHeader+maxSessionIDLen)+1+b64.EncodedLen(sha256.Size) {
		return invalid("too long")
	}
	p64, t64, ok := strings.Cut(token, ".")
	if !ok {
		return invalid("no separator")
	}
	payload, err := b64.DecodeString(p64)
	if err != nil {
		return invalid("payload is not base64url")
	}
	tag, err := b64.DecodeString(t64)
	if err != nil {
		return invalid("tag is not base64url")
	}
	if !hmac.Equal(tag, s.tag(payload)) {
		return invalid("bad signature")
	}
	// Authentic from here on; the checks below guard against a key shared with another format.
	if len(payload) <= tokenHeader || payload[0] != tokenVersion {
		return invalid("unknown format")
	}
	secs := binary.BigEndian.Uint64(payload[1:tokenHeader])
	if secs > 1<<62 {
		return invalid("expiry out of range")
	}
	return string(payload[tokenHeader:]), time.Unix(int64(secs), 0), nil
}

// tag returns HMAC-SHA256(key, payload).
func (s *Signer) tag(payload []byte) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write(payload)
	return m.Sum(nil)
}
