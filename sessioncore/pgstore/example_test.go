package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/benchd/benchd/sessioncore"
	"github.com/benchd/benchd/sessioncore/pgstore"
)

// A reconnect token is handed to the client when its connection drops; when it comes back
// with the token, Verify names the session it may resume.
func ExampleSigner() {
	key := []byte("0123456789abcdef0123456789abcdef") // use 32 random bytes in production
	signer, err := pgstore.NewSigner(key)
	if err != nil {
		log.Fatal(err)
	}
	now := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	token := signer.Sign("player_42", now.Add(5*time.Minute))

	id, err := signer.Verify(token, now.Add(time.Minute))
	fmt.Println(id, err)

	_, err = signer.Verify(token, now.Add(10*time.Minute))
	fmt.Println(errors.Is(err, pgstore.ErrTokenExpired))

	_, err = signer.Verify(token[:len(token)-2]+"AA", now)
	fmt.Println(errors.Is(err, pgstore.ErrTokenInvalid))
	// Output:
	// player_42 <nil>
	// true
	// true
}

// A write-behind store in front of a registry: Save and Touch are buffered, coalesced per
// session and flushed in batches; Close flushes what is left.
func ExampleNew() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()
	if _, err := pgstore.Migrate(ctx, pool); err != nil {
		log.Fatal(err)
	}
	store := pgstore.New(pool, pgstore.Config{Mode: pgstore.WriteBehind, FlushInterval: 50 * time.Millisecond})
	defer func() {
		if err := store.Close(ctx); err != nil {
			log.Print(err)
		}
	}()

	var p sessioncore.Persister = store // what the registry is given
	now := time.Now()
	if err := p.Save(ctx, sessioncore.Record{
		ID: "player_42", Handler: "default", State: "connecting",
		CreatedAt: now, LastActive: now, ExpiresAt: now.Add(30 * time.Minute),
	}); err != nil {
		log.Fatal(err)
	}
	p.Touch("player_42", time.Now())
}

// Commands for a disconnected session wait in its queue; the reconnecting client drains them.
func ExampleStore_Drain() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()
	store := pgstore.New(pool, pgstore.Config{})
	defer store.Close(ctx)

	if _, err := store.Enqueue(ctx, "player_42", []byte(`{"say":"hello"}`)); err != nil {
		log.Fatal(err)
	}
	cmds, err := store.Drain(ctx, "player_42")
	if err != nil {
		log.Fatal(err)
	}
	for _, c := range cmds {
		fmt.Printf("%d %s\n", c.ID, c.Payload)
	}
}
