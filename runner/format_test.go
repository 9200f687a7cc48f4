package runner

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// reports returns the reports the format golden files are made from.
func reports(t *testing.T) map[string]*Report {
	t.Helper()
	old := parseFile(t, "testdata/compare/old.txt")
	new := parseFile(t, "testdata/compare/new.txt")
	fail := parseFile(t, "testdata/parse/failures.txt")
	rules, err := NewRules(DefaultThresholds())
	if err != nil {
		t.Fatal(err)
	}
	return map[string]*Report{
		"compare":     NewReport(old, new, "old.txt", "new.txt", rules, Options{}),
		"no_baseline": NewReport(nil, new, "", "new.txt", rules, Options{}),
		"failures":    NewReport(fail, fail, "failures.txt", "failures.txt", rules, Options{}),
	}
}

func TestFormatsGolden(t *testing.T) {
	for name, r := range reports(t) {
		for _, f := range []struct {
			ext   string
			write func(*bytes.Buffer) error
		}{
			{"txt", func(b *bytes.Buffer) error { return WriteText(b, r, TextOptions{}) }},
			{"color.txt", func(b *bytes.Buffer) error { return WriteText(b, r, TextOptions{Color: true}) }},
			{"md", func(b *bytes.Buffer) error { return WriteMarkdown(b, r) }},
			{"json", func(b *bytes.Buffer) error { return WriteJSON(b, r) }},
		} {
			var b bytes.Buffer
			if err := f.write(&b); err != nil {
				t.Fatal(err)
			}
			checkGolden(t, "testdata/format/"+name+"."+f.ext, b.Bytes())
		}
	}
}

func TestFormatsBehaviour(t *testing.T) {
	r := reports(t)["compare"]
	if r.Status() != StatusRegressed {
		t.Errorf("got status %s, want regressed (Create/n=1000 is 12.9%% slower)", r.Status())
	}
	var b bytes.Buffer
	if err := WriteJSON(&b, r); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Schema  string
		Results []struct {
			Name, Unit, Status, Rule string
		}
	}
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatalf("JSON output does not decode: %v", err)
	}
	var regressed []string
	for _, x := range doc.Results {
		if x.Status == "regressed" {
			regressed = append(regressed, x.Name+" "+x.Unit)
		}
	}
	if doc.Schema != JSONSchema || strings.Join(regressed, ",") != "Create/n=1000 sec/op,Create/n=1000 sessions/s" {
		t.Errorf("got schema %q regressed %q", doc.Schema, regressed)
	}
	b.Reset()
	WriteText(&b, r, TextOptions{})
	if strings.Contains(b.String(), "\x1b[") {
		t.Error("text without colour contains ANSI escapes")
	}
	b.Reset()
	WriteMarkdown(&b, r)
	if !strings.HasPrefix(b.String(), "### benchd: 🔴") {
		t.Errorf("markdown starts %q, want a red headline", b.String()[:30])
	}
}

func TestGoBenchRoundTrip(t *testing.T) {
	set := parseFile(t, "testdata/compare/new.txt")
	var b bytes.Buffer
	if err := WriteGoBench(&b, set); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "testdata/format/new.gobench", b.Bytes())
	again, err := Parse(&b, "again")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range CompareSets(set, again, Options{}) {
		if c.Old.N != c.New.N || c.Old.Median != 0 && (c.New.Median/c.Old.Median-1 > 1e-9 || c.New.Median/c.Old.Median-1 < -1e-9) || c.Better != set.Results[0].Better && c.Unit == "sec/op" {
			t.Errorf("for %s %s, round trip changed %+v to %+v", c.Name, c.Unit, c.Old, c.New)
		}
	}
}
