package sessioncore

import (
	"fmt"
	"runtime"
	"time"
)

// Config configures a Registry. The zero Config is valid: unlimited sessions, no rate limit,
// no TTL, the default handler and state machine, the system clock.
type Config struct {
	// MaxSessions caps the number of live sessions, exactly (default 0: no cap).
	MaxSessions int
	// CreateRate limits starts per second, as a token bucket (default 0: no limit).
	CreateRate float64
	// CreateBurst is the bucket's size in starts (default: max(1, CreateRate)).
	CreateBurst int
	// TTL is the idle time after which a session expires, for a Spec with TTL 0
	// (default 0: sessions do not expire when idle).
	TTL time.Duration
	// Lifetime is the absolute lifetime of a session, for a Spec with Lifetime 0
	// (default 0: no limit).
	Lifetime time.Duration
	// MailboxSize bounds the messages (casts and calls) queued for a session; a Cast or a Call
	// to a full mailbox returns ErrMailboxFull at once (default 64).
	MailboxSize int
	// Workers is the number of shared worker goroutines that run casts and queued calls
	// (default GOMAXPROCS).
	Workers int
	// Shards is the number of registry shards, rounded up to a power of two
	// (default 4×GOMAXPROCS, at least 8 and at most 256). Every shard's map costs ~200 B once it
	// holds a session, so few shards keep small registries small.
	Shards int
	// Clock is the time source (default: the system clock). With a *ManualClock the registry
	// expires sessions only in CleanupExpired (its ticker then only times out calls).
	Clock Clock
	// ClockResolution is how often the coarse clock is refreshed from Clock and call timeouts
	// are checked (default 5ms).
	ClockResolution time.Duration
	// ExpiryResolution is the width of an expiry bucket and the automatic sweep period; a
	// session expires up to this much after its deadline (default 1s).
	ExpiryResolution time.Duration
	// CallTimeout bounds a Call whose context has no deadline: it returns ErrCallTimeout when no
	// reply came within CallTimeout, whether the session was busy or its handler blocks
	// (default 5s). The registry's ticker enforces it, so such a call returns between
	// CallTimeout and CallTimeout + 2×ClockResolution after it began. Inline calls
	// (InlineCalls, the default handler) cannot be interrupted.
	CallTimeout time.Duration
	// InlineCalls runs a Call to an idle session on the caller's goroutine for every handler,
	// not only the default handler: no goroutine hand-off (tens of ns instead of half a µs),
	// but neither the call's context nor CallTimeout can interrupt a handler that blocks. Set
	// it only for handlers whose HandleCall never blocks (default false).
	InlineCalls bool
	// Machine is the sessions' state machine; new sessions start in state 0
	// (default DefaultMachine()).
	Machine *Machine
	// Handlers names the handler factories a Spec can ask for; DefaultHandler is built in and
	// cannot be replaced (default: none besides DefaultHandler).
	Handlers map[string]HandlerFactory
	// Persister, when set, stores sessions: Save on start and on transitions, Touch on
	// activity, Delete on terminate and expiry (default nil: no persistence).
	Persister Persister
	// Hooks receive telemetry (default: none).
	Hooks Hooks
}

// Hooks are telemetry callbacks. Each is optional; a nil hook costs nothing (durations are
// only measured when the hook that receives them is set). Hooks run on the goroutine doing the
// work and must be quick and must not call back into the registry for the same session.
type Hooks struct {
	// OnStart is called after a session started; d is the time Start took.
	OnStart func(id string, d time.Duration)
	// OnStop is called after a session ended; reason is ErrTerminated, ErrExpired,
	// ErrCrashed, ErrShutdown or ErrStartAborted.
	OnStop func(id string, reason error)
	// OnCall is called after a call was answered; d is the round trip seen by the caller.
	OnCall func(id string, d time.Duration, err error)
	// OnCast is called after a cast was enqueued (err nil) or refused.
	OnCast func(id string, err error)
	// OnExpire is called for each session that expired (before OnStop).
	OnExpire func(id string)
	// OnTransition is called after a session changed state; d is the time it took,
	// including the Persister's Save.
	OnTransition func(id string, from, to State, d time.Duration)
	// OnBroadcast is called after a broadcast (Pool.Broadcast, Registry.CastAll); n is the
	// number of recipients it reached and d the time it took.
	OnBroadcast func(n int, d time.Duration)
}

func (c Config) withDefaults() (Config, error) {
	if c.MaxSessions < 0 || c.CreateRate < 0 || c.CreateBurst < 0 || c.TTL < 0 || c.Lifetime < 0 ||
		c.MailboxSize < 0 || c.Workers < 0 || c.Shards < 0 || c.ClockResolution < 0 ||
		c.ExpiryResolution < 0 || c.CallTimeout < 0 {
		return c, fmt.Errorf("checking config: negative value in %+v", c)
	}
	if c.CreateRate > 0 && c.CreateBurst == 0 {
		c.CreateBurst = max(1, int(c.CreateRate))
	}
	if c.MailboxSize == 0 {
		c.MailboxSize = 64
	}
	if c.Workers == 0 {
		c.Workers = runtime.GOMAXPROCS(0)
	}
	if c.Shards == 0 {
		c.Shards = min(max(4*runtime.GOMAXPROCS(0), 8), 256)
	}
	n := 1
	for n < c.Shards {
		n <<= 1
	}
	c.Shards = n
	if c.Clock == nil {
		c.Clock = systemClock{}
	}
	if c.ClockResolution == 0 {
		c.ClockResolution = 5 * time.Millisecond
	}
	if c.ExpiryResolution == 0 {
		c.ExpiryResolution = time.Second
	}
	if c.CallTimeout == 0 {
		c.CallTimeout = 5 * time.Second
	}
	if c.Machine == nil {
		c.Machine = defaultMachine
	}
	if _, ok := c.Handlers[DefaultHandler]; ok {
		return c, fmt.Errorf("checking config: handler name %q is reserved", DefaultHandler)
	}
	return c, nil
}
