package pgstore

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/benchd/benchd/sessioncore"
	"github.com/benchd/benchd/sessioncore/pgstore/internal/pgsqlc"
)

// opKind is the net effect of the buffered writes of one session.
type opKind uint8

const (
	opNone   opKind = iota // nothing buffered
	opTouch                // move last_active of an existing row forward to at
	opSave                 // upsert rec
	opDelete               // delete the row and its commands
)

// op is the coalesced buffered write of one session.
type op struct {
	kind opKind
	at   time.Time          // opTouch
	rec  sessioncore.Record // opSave
}

// merge returns the single write equivalent to old followed by next. A delete wins over
// everything before it; a save replaces what was before it (keeping a later touch time); a
// touch folds into a buffered save, keeps the latest of two touches, and is moot after a
// delete.
func merge(old, next op) op {
	switch next.kind {
	case opNone:
		return old
	case opDelete:
		return next
	case opSave:
		if old.kind == opTouch {
			next.rec = touchRecord(next.rec, old.at)
		}
		return next
	}
	// next is a touch.
	switch old.kind {
	case opSave:
		old.rec = touchRecord(old.rec, next.at)
		return old
	case opDelete:
		return old
	case opTouch:
		if next.at.After(old.at) {
			return next
		}
		return old
	}
	return next
}

// touchRecord applies a touch at time at to r, as the SessionTouchMany query does: when at is
// later than LastActive, LastActive becomes at and a non-zero ExpiresAt moves by the same
// amount.
func touchRecord(r sessioncore.Record, at time.Time) sessioncore.Record {
	if !at.After(r.LastActive) {
		return r
	}
	if !r.ExpiresAt.IsZero() {
		r.ExpiresAt = r.ExpiresAt.Add(at.Sub(r.LastActive))
	}
	r.LastActive = at
	return r
}

// loop flushes every FlushInterval, and when a writer signals a full batch, until Close.
func (s *Store) loop() {
	defer close(s.done)
	t := time.NewTicker(s.cfg.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		case <-s.kick:
		}
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.FlushTimeout)
		err := s.Flush(ctx)
		cancel()
		if err != nil {
			s.cfg.Logger.Warn("pgstore: background flush failed; writes kept for the next one",
				slog.Any("error", err))
		}
	}
}

// Flush writes every write buffered before the call, in one transaction, and returns when it
// has committed (the writes are then durable). On failure the writes stay buffered, merged
// under any newer ones, and the next flush retries them. Flushes run one at a time, in order.
func (s *Store) Flush(ctx context.Context) error {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()

	s.mu.Lock()
	if len(s.pending) == 0 {
		s.mu.Unlock()
		return nil
	}
	cur := s.pending
	s.pending = s.spare
	s.inflight = cur
	close(s.room) // wake writers waiting for room
	s.room = make(chan struct{})
	s.mu.Unlock()

	err := s.write(ctx, cur)

	s.mu.Lock()
	if err != nil {
		for id, o := range cur {
			s.pending[id] = merge(o, s.pending[id])
		}
	}
	s.inflight = nil
	s.mu.Unlock()

	n := len(cur)
	if n > 4*s.cfg.BatchSize {
		s.spare = make(map[string]op) // do not keep a burst's memory forever
	} else {
		clear(cur)
		s.spare = cur
	}
	if err != nil {
		s.flushErrors.Add(1)
		return fmt.Errorf("flushing writes of %d sessions: %w", n, err)
	}
	s.flushes.Add(1)
	return nil
}

// batch holds the argument arrays of one flush, reused from flush to flush.
type batch struct {
	up    pgsqlc.SessionUpsertManyParams
	touch pgsqlc.SessionTouchManyParams
	del   []string
}

// reset empties b, dropping references to the previous flush's values.
func (b *batch) reset() {
	clear(b.up.Ids)
	clear(b.up.Handlers)
	clear(b.up.States)
	clear(b.up.Datas)
	clear(b.touch.Ids)
	clear(b.del)
	b.up.Ids, b.up.Handlers, b.up.States = b.up.Ids[:0], b.up.Handlers[:0], b.up.States[:0]
	b.up.CreatedAts, b.up.LastActives = b.up.CreatedAts[:0], b.up.LastActives[:0]
	b.up.ExpiresAts, b.up.Datas = b.up.ExpiresAts[:0], b.up.Datas[:0]
	b.touch.Ids, b.touch.Ats = b.touch.Ids[:0], b.touch.Ats[:0]
	b.del = b.del[:0]
}

// write writes ops in one transaction: one statement per kind, rows passed as arrays.
func (s *Store) write(ctx context.Context, ops map[string]op) error {
	b := &s.batch
	b.reset()
	defer b.reset()
	for id, o := range ops {
		switch o.kind {
		case opSave:
			b.up.Ids = append(b.up.Ids, o.rec.ID)
			b.up.Handlers = append(b.up.Handlers, o.rec.Handler)
			b.up.States = append(b.up.States, o.rec.State)
			b.up.CreatedAts = append(b.up.CreatedAts, ts(o.rec.CreatedAt))
			b.up.LastActives = append(b.up.LastActives, ts(o.rec.LastActive))
			b.up.ExpiresAts = append(b.up.ExpiresAts, tsNull(o.rec.ExpiresAt))
			b.up.Datas = append(b.up.Datas, o.rec.Data)
		case opTouch:
			b.touch.Ids = append(b.touch.Ids, id)
			b.touch.Ats = append(b.touch.Ats, ts(o.at))
		case opDelete:
			b.del = append(b.del, id)
		}
	}
	var up, touched, deleted int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		q := s.q.WithTx(tx)
		var err error
		if len(b.del) > 0 {
			if deleted, err = q.SessionDeleteMany(ctx, b.del); err != nil {
				return fmt.Errorf("deleting %d sessions: %w", len(b.del), err)
			}
		}
		if len(b.up.Ids) > 0 {
			if up, err = q.SessionUpsertMany(ctx, b.up); err != nil {
				return fmt.Errorf("upserting %d sessions: %w", len(b.up.Ids), err)
			}
		}
		if len(b.touch.Ids) > 0 {
			if touched, err = q.SessionTouchMany(ctx, b.touch); err != nil {
				return fmt.Errorf("touching %d sessions: %w", len(b.touch.Ids), err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.upserted.Add(up)
	s.touched.Add(touched)
	s.deleted.Add(deleted)
	return nil
}
