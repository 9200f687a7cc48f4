package db_test

import (
	"context"
	"errors"
	"testing"

	"github.com/benchd/benchd/db/dbtest"
	"github.com/jackc/pgx/v5"
)

// TestEnqueueWebhookDelivery: a new delivery calls enqueue inside its transaction and keeps
// the job id; a redelivery calls nothing and returns the first job; a failed enqueue leaves no
// delivery behind, so GitHub's redelivery is handled as new.
func TestEnqueueWebhookDelivery(t *testing.T) {
	d := dbtest.Schema(t)
	ctx := context.Background()
	calls := 0
	enqueue := func(id int64, fail error) func(context.Context, pgx.Tx) (int64, error) {
		return func(ctx context.Context, tx pgx.Tx) (int64, error) {
			calls++
			var n int
			// The delivery row is visible in the transaction the job is inserted in.
			if err := tx.QueryRow(ctx, "SELECT count(*) FROM webhook_deliveries WHERE delivery_id = 'd-1'").Scan(&n); err != nil || n != 1 {
				t.Errorf("inside enqueue, got %d delivery rows (%v), want 1", n, err)
			}
			return id, fail
		}
	}
	if _, _, err := d.Store.EnqueueWebhookDelivery(ctx, "d-1", "push", enqueue(0, errors.New("queue down"))); err == nil {
		t.Fatal("for a failing enqueue, got no error")
	}
	if n := count(t, d, "webhook_deliveries"); n != 0 {
		t.Errorf("after a failed enqueue, got %d deliveries stored, want 0", n)
	}
	id, dup, err := d.Store.EnqueueWebhookDelivery(ctx, "d-1", "push", enqueue(42, nil))
	if err != nil || dup || id != 42 {
		t.Errorf("for a new delivery, got job %d duplicate %v (%v), want job 42, not a duplicate", id, dup, err)
	}
	before := calls
	id, dup, err = d.Store.EnqueueWebhookDelivery(ctx, "d-1", "push", enqueue(43, nil))
	if err != nil || !dup || id != 42 || calls != before {
		t.Errorf("for a redelivery, got job %d duplicate %v (%v) and %d enqueue calls, want job 42, a duplicate and none", id, dup, err, calls-before)
	}
}
