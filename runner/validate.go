package runner

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// This file holds the checks of what a client may send: the same rules for Go benchmark text,
// JSON runs, page and API query parameters and the command line, so that nothing the
// database would refuse (invalid UTF-8, NUL) and nothing benchd would store wrongly reaches
// it. Each check returns nil or an error saying what is wrong with the value, without naming
// the field: the caller knows where the value came from.

// Limits on the size of one value, in bytes.
const (
	// MaxNameBytes bounds a benchmark name.
	MaxNameBytes = 1000
	// MaxUnitBytes bounds a unit.
	MaxUnitBytes = 100
	// MaxBranchBytes bounds a branch name (git's own limit is the file system's, 255).
	MaxBranchBytes = 255
	// MaxLabelBytes bounds a testbed, suite, trigger, package or idempotency key.
	MaxLabelBytes = 200
	// MaxConfigValueBytes bounds the value of a config line (a cpu: line is ~50 bytes).
	MaxConfigValueBytes = 1000
	// MaxParamBytes bounds a page or API query parameter.
	MaxParamBytes = 2000
)

// CheckText returns an error unless s is valid UTF-8 of at most max bytes with no control
// character (NUL, newline, tab, DEL, the C1 controls). Empty text is allowed.
func CheckText(s string, max int) error {
	if len(s) > max {
		return fmt.Errorf("is %d bytes long, the limit is %d", len(s), max)
	}
	if !utf8.ValidString(s) {
		i := firstInvalid(s)
		return fmt.Errorf("is not valid UTF-8 (byte %d is %#02x)", i+1, s[i])
	}
	for i, r := range s {
		if unicode.IsControl(r) {
			return fmt.Errorf("contains the control character %U at byte %d", r, i+1)
		}
	}
	return nil
}

func firstInvalid(s string) int {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return 0
}

// CheckName returns an error unless name is a usable benchmark name: non-empty text of at
// most MaxNameBytes with no white space (Go benchmark text separates fields with it).
func CheckName(name string) error {
	if name == "" {
		return fmt.Errorf("is empty")
	}
	if err := CheckText(name, MaxNameBytes); err != nil {
		return err
	}
	if i := strings.IndexFunc(name, unicode.IsSpace); i >= 0 {
		return fmt.Errorf("contains white space at byte %d", i+1)
	}
	return nil
}

// CheckUnit returns an error unless unit is a usable unit: non-empty text of at most
// MaxUnitBytes with no white space.
func CheckUnit(unit string) error {
	if unit == "" {
		return fmt.Errorf("is empty")
	}
	if err := CheckText(unit, MaxUnitBytes); err != nil {
		return err
	}
	if i := strings.IndexFunc(unit, unicode.IsSpace); i >= 0 {
		return fmt.Errorf("contains white space at byte %d", i+1)
	}
	return nil
}

// CheckConfig returns an error unless key and value make a config line Go benchmark text can
// hold: a key of letters, digits and "-_./" starting with a lower-case letter (benchfmt's
// rule), and a value of text (tabs allowed) of at most MaxConfigValueBytes.
func CheckConfig(key, value string) error {
	if key == "" {
		return fmt.Errorf("key is empty")
	}
	if err := CheckText(key, MaxLabelBytes); err != nil {
		return fmt.Errorf("key %w", err)
	}
	first, _ := utf8.DecodeRuneInString(key)
	if !unicode.IsLower(first) {
		return fmt.Errorf("key %q must start with a lower-case letter", key)
	}
	if i := strings.IndexFunc(key, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsUpper(r) || r == ':' }); i >= 0 {
		return fmt.Errorf("key %q has a space, ':' or upper-case letter at byte %d", key, i+1)
	}
	if err := CheckText(strings.ReplaceAll(value, "\t", " "), MaxConfigValueBytes); err != nil {
		return fmt.Errorf("value of %s %w", key, err)
	}
	return nil
}

// CheckBranch returns an error unless name is a valid git branch name (what
// `git check-ref-format --branch` accepts), in UTF-8 and at most MaxBranchBytes long.
//
// Note: these are git's rules from git-check-ref-format(1), written out rather than run
// (`git check-ref-format` per request would fork a process) or imported (no well-kept Go
// library exports them; go-git's plumbing.ReferenceName checks fewer of them).
func CheckBranch(name string) error {
	if name == "" {
		return fmt.Errorf("is empty")
	}
	if err := CheckText(name, MaxBranchBytes); err != nil {
		return err
	}
	bad := func(why string) error { return fmt.Errorf("%q is not a valid git branch name: %s", name, why) }
	switch {
	case name == "@" || name == "HEAD":
		return bad("it is reserved")
	case strings.HasPrefix(name, "-"):
		return bad("it starts with '-'")
	case strings.HasPrefix(name, "/") || strings.HasSuffix(name, "/") || strings.Contains(name, "//"):
		return bad("it starts or ends with '/' or has an empty component")
	case strings.HasSuffix(name, "."):
		return bad("it ends with '.'")
	case strings.Contains(name, ".."):
		return bad(`it contains ".."`)
	case strings.Contains(name, "@{"):
		return bad(`it contains "@{"`)
	}
	if i := strings.IndexAny(name, " ~^:?*[\\"); i >= 0 {
		return bad(fmt.Sprintf("it contains %q", name[i]))
	}
	for _, part := range strings.Split(name, "/") {
		if strings.HasPrefix(part, ".") || strings.HasSuffix(part, ".lock") {
			return bad(`a component starts with '.' or ends with ".lock"`)
		}
	}
	return nil
}

// CheckCommit returns an error unless commit is empty or a git object id in hex: 7 to 64
// hexadecimal digits (abbreviated, SHA-1 or SHA-256).
func CheckCommit(commit string) error {
	if commit == "" {
		return nil
	}
	if len(commit) < 7 || len(commit) > 64 {
		if err := CheckText(commit, len(commit)); err != nil {
			return err
		}
		return fmt.Errorf("%q is not a commit id: want 7 to 64 hexadecimal digits", commit)
	}
	for i := 0; i < len(commit); i++ {
		if c := commit[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			if err := CheckText(commit, 64); err != nil {
				return err
			}
			return fmt.Errorf("%q is not a commit id: byte %d is not a hexadecimal digit", commit, i+1)
		}
	}
	return nil
}

// CheckIters returns an error unless n, a benchmark line's iteration count, is positive.
func CheckIters(n int) error {
	if n < 1 {
		return fmt.Errorf("iteration count %d: a benchmark runs at least once", n)
	}
	return nil
}
