package sessioncore

import (
	"sync/atomic"
	"time"
)

// Clock tells the registry the time. The registry reads it on a ticker into a coarse atomic
// clock so hot paths (touch, expiry checks, rate limiting) never call it.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
}

// systemClock is the wall clock.
type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// ManualClock is a Clock that only moves when told to, for tests. A Registry using a
// ManualClock reads it directly and sweeps expired sessions only when Registry.CleanupExpired
// is called; its ticker still runs, for call timeouts only (CallTimeout is real time). Safe for
// concurrent use.
type ManualClock struct {
	ns atomic.Int64 // Unix nanoseconds
}

// NewManualClock returns a ManualClock set to t.
func NewManualClock(t time.Time) *ManualClock {
	c := &ManualClock{}
	c.ns.Store(t.UnixNano())
	return c
}

// Now returns the clock's current time.
func (c *ManualClock) Now() time.Time { return time.Unix(0, c.ns.Load()) }

// Set moves the clock to t.
func (c *ManualClock) Set(t time.Time) { c.ns.Store(t.UnixNano()) }

// Advance moves the clock forward by d (backward for a negative d).
func (c *ManualClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }
