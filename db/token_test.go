package db_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/benchd/benchd/db"
	"github.com/benchd/benchd/db/dbtest"
)

func TestTokens(t *testing.T) {
	d := dbtest.Schema(t)
	ctx := context.Background()
	if _, err := d.Store.EnsureProject(ctx, "p"); err != nil {
		t.Fatal(err)
	}
	tok, plain, err := d.Store.CreateToken(ctx, "p", "ci")
	if err != nil {
		t.Fatal(err)
	}
	if tok.Project != "p" || tok.Name != "ci" || len(plain) < 40 {
		t.Errorf("got %+v with plaintext %q, want token ci of p with a long secret", tok, plain)
	}
	// Only the hash is stored.
	var stored int
	if err := dbtest.Conn(t, d.URL).QueryRow(ctx, "SELECT count(*) FROM api_tokens WHERE position($1::bytea in hash) > 0", []byte(plain)).Scan(&stored); err != nil || stored != 0 {
		t.Errorf("plaintext found in the table (%d rows, %v)", stored, err)
	}
	got, err := d.Store.VerifyToken(ctx, plain)
	if err != nil || got.ID != tok.ID || got.Project != "p" || got.LastUsedAt.IsZero() {
		t.Errorf("VerifyToken: got %+v, %v, want token %d with a last use", got, err, tok.ID)
	}
	for _, bad := range []string{"", plain[:len(plain)-1], plain + "x", strings.ToUpper(plain), "Bearer " + plain} {
		if _, err := d.Store.VerifyToken(ctx, bad); !errors.Is(err, db.ErrNotFound) {
			t.Errorf("VerifyToken(%q): got %v, want ErrNotFound", bad, err)
		}
	}
	if _, _, err := d.Store.CreateToken(ctx, "p", "ci"); !errors.Is(err, db.ErrConflict) {
		t.Errorf("second live token named ci: got %v, want ErrConflict", err)
	}
	all, allPlain, err := d.Store.CreateToken(ctx, "", "ci")
	if err != nil || all.Project != "" {
		t.Fatalf("all-projects token: got %+v, %v", all, err)
	}
	if err := d.Store.RevokeToken(ctx, "p", "ci"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Store.VerifyToken(ctx, plain); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("VerifyToken of a revoked token: got %v, want ErrNotFound", err)
	}
	if _, err := d.Store.VerifyToken(ctx, allPlain); err != nil {
		t.Errorf("the all-projects token of the same name: got %v, want it still valid", err)
	}
	if err := d.Store.RevokeToken(ctx, "p", "ci"); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("revoking twice: got %v, want ErrNotFound", err)
	}
	if _, _, err := d.Store.CreateToken(ctx, "p", "ci"); err != nil {
		t.Errorf("reusing a revoked name: got %v, want nil", err)
	}
	list, err := d.Store.ListTokens(ctx, "p")
	if err != nil || len(list) != 2 || list[0].RevokedAt.IsZero() || !list[1].RevokedAt.IsZero() {
		t.Errorf("ListTokens(p): got %+v, %v, want the revoked and the new token", list, err)
	}
	everything, err := d.Store.ListTokens(ctx, "")
	if err != nil || len(everything) != 3 {
		t.Errorf("ListTokens(\"\"): got %d tokens, %v, want 3", len(everything), err)
	}
}

func TestWebhookDeliveries(t *testing.T) {
	d := dbtest.Schema(t)
	ctx := context.Background()
	isNew, err := d.Store.RecordWebhookDelivery(ctx, "d-1", "push")
	if err != nil || !isNew {
		t.Fatalf("first delivery: got %v, %v, want new", isNew, err)
	}
	isNew, err = d.Store.RecordWebhookDelivery(ctx, "d-1", "push")
	if err != nil || isNew {
		t.Errorf("redelivery: got new=%v, %v, want not new", isNew, err)
	}
	if err := d.Store.SetWebhookDeliveryJob(ctx, "d-1", 99); err != nil {
		t.Error(err)
	}
	if _, err := d.Store.RecordWebhookDelivery(ctx, "", "push"); !errors.Is(err, db.ErrInvalid) {
		t.Errorf("empty delivery id: got %v, want ErrInvalid", err)
	}
}
