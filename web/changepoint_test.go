package web

import (
	"context"
	"fmt"
	"testing"

	"github.com/benchd/benchd/db"
)

func TestChangePointAlerts(t *testing.T) {
	e := newEnv(t, Config{}, nil)
	out := readBench(t)
	var ids []int64
	for i := range 14 {
		body := out
		if i >= 8 { // the last six runs: 60% slower
			body = slowed(out, "Lookup", 1.6)
		}
		var rep IngestReply
		if status, raw := e.api(t, "POST", fmt.Sprintf("/api/v1/projects/sessioncore/runs?branch=main&testbed=bench&commit=c%06d", i), e.token, "text/plain", body, &rep); status != 201 {
			t.Fatalf("post %d: %d %s", i, status, raw)
		}
		ids = append(ids, rep.RunID)
	}
	got, err := e.srv.ingest.ChangePointAlerts(context.Background(), ids[13])
	if err != nil {
		t.Fatal(err)
	}
	alerts, err := e.db.Store.ListAlerts(context.Background(), db.AlertFilter{Project: "sessioncore", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, a := range alerts {
		if a.Rule == "changepoint" && a.Benchmark == "Lookup" && a.Unit == "sec/op" && a.RunID == ids[8] {
			found = true
		}
	}
	if len(got) == 0 || !found {
		t.Errorf("for a shift at run %d, got alerts %v and stored %+v, want a changepoint alert on Lookup sec/op at run %d", ids[8], got, alerts, ids[8])
	}
	// Running the rule again raises nothing new.
	if again, err := e.srv.ingest.ChangePointAlerts(context.Background(), ids[13]); err != nil || len(again) != 0 {
		t.Errorf("for a second evaluation, got %v (%v), want no new alerts", again, err)
	}
}
