package pgstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/benchd/benchd/sessioncore"
	"github.com/benchd/benchd/sessioncore/pgstore/internal/pgsqlc"
)

// ErrNotFound is returned by [Store.Get] when no session has the id.
var ErrNotFound = errors.New("pgstore: session not found")

// ErrClosed is returned by buffered writes after [Store.Close].
var ErrClosed = errors.New("pgstore: store closed")

// Mode selects when a [Store] writes sessions to the database.
type Mode int

const (
	// WriteThrough writes Save and Delete before they return; touches are batched.
	WriteThrough Mode = iota
	// WriteBehind coalesces Save, Touch and Delete in memory and writes them in batches.
	WriteBehind
)

// String returns "write-through" or "write-behind" ("mode(N)" for an unknown value).
func (m Mode) String() string {
	switch m {
	case WriteThrough:
		return "write-through"
	case WriteBehind:
		return "write-behind"
	}
	return fmt.Sprintf("mode(%d)", int(m))
}

// Config configures a [Store]. The zero value is a write-through store with the defaults below.
type Config struct {
	// Mode is WriteThrough (the default) or WriteBehind.
	Mode Mode
	// FlushInterval is how often buffered writes are flushed. Default 100 ms.
	FlushInterval time.Duration
	// BatchSize is the number of sessions with buffered writes that triggers a flush before
	// the interval ends. Default 2,000.
	BatchSize int
	// MaxPending is the number of sessions with buffered writes at which a write-behind Save or
	// Delete waits (up to its context) for a flush to make room; Touch never waits. Default
	// 32 × BatchSize.
	MaxPending int
	// FlushTimeout bounds one background flush. Default 30 s.
	FlushTimeout time.Duration
	// Logger receives background flush failures. Default: discard.
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.FlushInterval <= 0 {
		c.FlushInterval = 100 * time.Millisecond
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 2000
	}
	if c.MaxPending <= 0 {
		c.MaxPending = 32 * c.BatchSize
	}
	if c.FlushTimeout <= 0 {
		c.FlushTimeout = 30 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Stats counts what a [Store]'s batched flushes wrote. Write-through Save and Delete are not
// counted: they are written directly.
type Stats struct {
	// Flushes is the number of committed non-empty flushes.
	Flushes int64
	// FlushErrors is the number of failed flushes (their writes were kept and retried).
	FlushErrors int64
	// Upserted is the number of session rows inserted or replaced by flushes.
	Upserted int64
	// Touched is the number of session rows whose last_active a flush moved forward.
	Touched int64
	// Deleted is the number of session rows deleted by flushes.
	Deleted int64
	// Pending is the number of sessions with buffered writes right now.
	Pending int
}

// Store persists sessions in PostgreSQL; it implements [sessioncore.Persister]. Create it with
// [New] and call [Store.Close] when done. Its methods are safe for concurrent use.
type Store struct {
	pool *pgxpool.Pool
	q    *pgsqlc.Queries
	cfg  Config

	mu       sync.Mutex
	pending  map[string]op // buffered writes, coalesced per session
	inflight map[string]op // writes of the flush in progress (nil when none), for Get
	room     chan struct{} // closed when a flush empties pending
	closed   bool

	flushMu sync.Mutex // serialises flushes so that they commit in order
	spare   map[string]op
	batch   batch

	kick chan struct{}
	stop chan struct{}
	done chan struct{}

	flushes, flushErrors, upserted, touched, deleted atomic.Int64
}

var _ sessioncore.Persister = (*Store)(nil)

// New returns a Store writing through pool (which must have the schema, see [Migrate]) and
// starts its background flusher. The caller keeps ownership of pool and closes it after
// [Store.Close].
func New(pool *pgxpool.Pool, cfg Config) *Store {
	cfg = cfg.withDefaults()
	s := &Store{
		pool:    pool,
		q:       pgsqlc.New(pool),
		cfg:     cfg,
		pending: make(map[string]op),
		spare:   make(map[string]op),
		room:    make(chan struct{}),
		kick:    make(chan struct{}, 1),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	go s.loop()
	return s
}

// Mode returns the store's mode.
func (s *Store) Mode() Mode { return s.cfg.Mode }

// Save stores r (insert or replace). In write-through mode the row is written before Save
// returns. In write-behind mode r is buffered (Data is copied) and Save returns at once,
// unless MaxPending sessions are already buffered: then it waits for a flush, or for ctx.
func (s *Store) Save(ctx context.Context, r sessioncore.Record) error {
	if s.cfg.Mode == WriteThrough {
		if err := s.q.SessionUpsert(ctx, pgsqlc.SessionUpsertParams{
			ID:         r.ID,
			Handler:    r.Handler,
			State:      r.State,
			CreatedAt:  ts(r.CreatedAt),
			LastActive: ts(r.LastActive),
			ExpiresAt:  tsNull(r.ExpiresAt),
			Data:       r.Data,
		}); err != nil {
			return fmt.Errorf("saving session %q: %w", r.ID, err)
		}
		return nil
	}
	r.Data = bytes.Clone(r.Data)
	return s.buffer(ctx, r.ID, op{kind: opSave, rec: r})
}

// Touch records activity of session id at time at: last_active moves forward to at (never
// back) and an idle expiry moves by the same amount. It never blocks on I/O, in either mode:
// touches are coalesced per session and written by the next flush. After Close it does
// nothing.
func (s *Store) Touch(id string, at time.Time) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.pending[id] = merge(s.pending[id], op{kind: opTouch, at: at})
	n := len(s.pending)
	s.mu.Unlock()
	if n == s.cfg.BatchSize {
		s.signal()
	}
}

// Delete removes session id and its queued commands; a missing id is not an error. In
// write-through mode the rows are deleted before Delete returns; in write-behind mode the
// delete is buffered like Save.
func (s *Store) Delete(ctx context.Context, id string) error {
	if s.cfg.Mode == WriteThrough {
		s.mu.Lock()
		delete(s.pending, id) // a buffered touch of a deleted session is moot
		s.mu.Unlock()
		if _, err := s.q.SessionDelete(ctx, id); err != nil {
			return fmt.Errorf("deleting session %q: %w", id, err)
		}
		return nil
	}
	return s.buffer(ctx, id, op{kind: opDelete})
}

// buffer merges o into the pending writes of id, waking the flusher at BatchSize and waiting
// for room at MaxPending.
func (s *Store) buffer(ctx context.Context, id string, o op) error {
	s.mu.Lock()
	for len(s.pending) >= s.cfg.MaxPending && !s.closed {
		room := s.room
		s.mu.Unlock()
		s.signal()
		select {
		case <-room:
		case <-ctx.Done():
			return fmt.Errorf("buffering a write of session %q: waiting for a flush: %w", id, ctx.Err())
		}
		s.mu.Lock()
	}
	if s.closed {
		s.mu.Unlock()
		return fmt.Errorf("buffering a write of session %q: %w", id, ErrClosed)
	}
	s.pending[id] = merge(s.pending[id], o)
	n := len(s.pending)
	s.mu.Unlock()
	if n == s.cfg.BatchSize {
		s.signal()
	}
	return nil
}

// signal wakes the flusher without blocking.
func (s *Store) signal() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// Get returns the session id as the store sees it: the database row with any buffered
// writes applied, so a write-behind store reads its own writes. It returns [ErrNotFound]
// when there is no such session.
func (s *Store) Get(ctx context.Context, id string) (sessioncore.Record, error) {
	s.mu.Lock()
	o := merge(s.inflight[id], s.pending[id])
	s.mu.Unlock()
	switch o.kind {
	case opDelete:
		return sessioncore.Record{}, fmt.Errorf("getting session %q: %w", id, ErrNotFound)
	case opSave:
		o.rec.Data = bytes.Clone(o.rec.Data)
		return o.rec, nil
	}
	row, err := s.q.SessionGet(ctx, id)
	if errors.Is(err, pgx.ErrNoRows) {
		return sessioncore.Record{}, fmt.Errorf("getting session %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return sessioncore.Record{}, fmt.Errorf("getting session %q: %w", id, err)
	}
	r := sessioncore.Record{
		ID:         row.ID,
		Handler:    row.Handler,
		State:      row.State,
		CreatedAt:  row.CreatedAt.Time.UTC(),
		LastActive: row.LastActive.Time.UTC(),
		Data:       row.Data,
	}
	if row.ExpiresAt.Valid {
		r.ExpiresAt = row.ExpiresAt.Time.UTC()
	}
	if o.kind == opTouch {
		r = touchRecord(r, o.at)
	}
	return r, nil
}

// DeleteExpired flushes buffered writes (so that pending touches count), then deletes every
// session whose expiry is at or before now, with its queued commands, in one statement. It
// returns the number of sessions deleted. Sessions that never expire are never deleted.
func (s *Store) DeleteExpired(ctx context.Context, now time.Time) (int64, error) {
	if err := s.Flush(ctx); err != nil {
		return 0, fmt.Errorf("deleting expired sessions: %w", err)
	}
	n, err := s.q.SessionDeleteExpired(ctx, ts(now))
	if err != nil {
		return 0, fmt.Errorf("deleting expired sessions: %w", err)
	}
	return n, nil
}

// Stats returns the flush counters and the number of sessions with buffered writes.
func (s *Store) Stats() Stats {
	s.mu.Lock()
	n := len(s.pending)
	s.mu.Unlock()
	return Stats{
		Flushes:     s.flushes.Load(),
		FlushErrors: s.flushErrors.Load(),
		Upserted:    s.upserted.Load(),
		Touched:     s.touched.Load(),
		Deleted:     s.deleted.Load(),
		Pending:     n,
	}
}

// Close stops the background flusher and flushes every buffered write, waiting up to ctx.
// Later buffered writes fail with [ErrClosed] and touches are ignored; the pool stays open.
// Calling Close again only flushes.
func (s *Store) Close(ctx context.Context) error {
	s.mu.Lock()
	first := !s.closed
	s.closed = true
	s.mu.Unlock()
	if first {
		close(s.stop)
		<-s.done
	}
	if err := s.Flush(ctx); err != nil {
		return fmt.Errorf("closing the store: %w", err)
	}
	return nil
}

// ts converts t to a timestamptz.
func ts(t time.Time) pgtype.Timestamptz {
	return pgtype.Timestamptz{Time: t, Valid: true}
}

// tsNull converts t to a timestamptz; the zero time becomes NULL.
func tsNull(t time.Time) pgtype.Timestamptz {
	return pgtype.Timestamptz{Time: t, Valid: !t.IsZero()}
}
