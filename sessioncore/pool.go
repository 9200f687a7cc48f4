package sessioncore

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Conn is a connection the Pool writes to. Send is called by one writer goroutine at a time.
type Conn interface {
	// Send writes one message.
	Send(msg []byte) error
	// Close closes the connection; it must make a blocked Send return.
	Close() error
	// Protocol names the transport ("tcp", "websocket", …) for CountByProtocol.
	Protocol() string
}

// NetConn adapts a net.Conn to Conn: Send writes msg as-is, Protocol returns protocol.
func NetConn(c net.Conn, protocol string) Conn { return netConn{c, protocol} }

type netConn struct {
	net.Conn
	proto string
}

func (c netConn) Send(msg []byte) error {
	_, err := c.Write(msg)
	return err
}

func (c netConn) Protocol() string { return c.proto }

// SlowPolicy says what the Pool does when a connection's queue is full.
type SlowPolicy uint8

const (
	// DropMessage drops the message for that connection (counted in PoolStats.Dropped).
	DropMessage SlowPolicy = iota
	// Disconnect closes the connection and marks it disconnected.
	Disconnect
)

// String returns "drop" or "disconnect".
func (p SlowPolicy) String() string {
	if p == Disconnect {
		return "disconnect"
	}
	return "drop"
}

// Errors returned by the Pool.
var (
	// ErrQueueFull: the connection's queue was full and the message was dropped.
	ErrQueueFull = errors.New("connection queue full")
	// ErrDisconnected: the connection is disconnected (write error, slow consumer, closed).
	ErrDisconnected = errors.New("connection disconnected")
	// ErrAlreadyRegistered: the session already has a connection in the pool.
	ErrAlreadyRegistered = errors.New("connection already registered")
)

// PoolConfig configures a Pool. The zero value is valid.
type PoolConfig struct {
	// QueueSize bounds the messages queued per connection (default 256).
	QueueSize int
	// Policy is the slow-consumer policy when a queue is full (default DropMessage).
	Policy SlowPolicy
	// Registry, when set, is told about disconnects: an unregistered or cleaned-up
	// connection's session moves to Disconnected when its machine allows it (default nil).
	Registry *Registry
	// OnBroadcast is called after each broadcast with the connections reached and the time
	// it took to enqueue (default nil).
	OnBroadcast func(n int, d time.Duration)
}

// Pool owns connections of sessions. Each connection has a bounded queue drained by its own
// writer goroutine (connections, unlike sessions, are few and active); sending and
// broadcasting only enqueue and never block. Safe for concurrent use; Close it to stop the
// writers.
type Pool struct {
	cfg    PoolConfig
	mu     sync.RWMutex
	conns  map[string]*poolConn
	snap   atomic.Pointer[[]*poolConn] // copy-on-write list for broadcasts
	wg     sync.WaitGroup
	closed bool
	wakeq  chan *[]*poolConn // writers to wake, handed from Broadcast to the waker
	stop   chan struct{}

	dropped, disconnected atomic.Int64
}

type poolConn struct {
	id    string
	c     Conn
	proto string
	limit int
	wake  chan struct{} // capacity 1: the writer sleeps on it when its queue is empty
	done  chan struct{}
	once  sync.Once
	dead  atomic.Bool

	mu     sync.Mutex
	q      [][]byte // queued messages, oldest first
	spare  [][]byte // the writer's last buffer, reused
	asleep bool     // the writer waits on wake
}

// NewPool returns an empty pool.
func NewPool(cfg PoolConfig) *Pool {
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 256
	}
	p := &Pool{cfg: cfg, conns: make(map[string]*poolConn), wakeq: make(chan *[]*poolConn, 64), stop: make(chan struct{})}
	p.snap.Store(&[]*poolConn{})
	p.wg.Add(1)
	go p.waker()
	return p
}

// Register adds c as the connection of session id and starts its writer. It returns
// ErrAlreadyRegistered when id has a connection (disconnected ones included until
// CleanupDisconnected), ErrClosed after Close.
func (p *Pool) Register(id string, c Conn) error {
	pc := &poolConn{id: id, c: c, proto: c.Protocol(), limit: p.cfg.QueueSize,
		wake: make(chan struct{}, 1), done: make(chan struct{})}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	if _, dup := p.conns[id]; dup {
		return fmt.Errorf("registering connection of %s: %w", id, ErrAlreadyRegistered)
	}
	p.conns[id] = pc
	p.publishLocked()
	p.wg.Add(1)
	go p.writer(pc)
	return nil
}

func (p *Pool) publishLocked() {
	list := make([]*poolConn, 0, len(p.conns))
	for _, pc := range p.conns {
		list = append(list, pc)
	}
	p.snap.Store(&list)
}

// writer sends pc's queued messages, taking the whole queue under one lock.
func (p *Pool) writer(pc *poolConn) {
	defer p.wg.Done()
	var batch [][]byte
	for {
		pc.mu.Lock()
		if batch != nil {
			clear(batch)
			pc.spare = batch[:0]
		}
		if len(pc.q) == 0 {
			pc.asleep = true
			pc.mu.Unlock()
			select {
			case <-pc.wake:
				batch = nil
				continue
			case <-pc.done:
				return
			}
		}
		batch = pc.q
		pc.q, pc.spare = pc.spare, nil
		pc.mu.Unlock()
		for _, msg := range batch {
			if pc.dead.Load() {
				return
			}
			if err := pc.c.Send(msg); err != nil {
				p.disconnect(pc)
				return
			}
		}
	}
}

// disconnect closes pc's connection once and marks it disconnected; it stays listed until
// Unregister or CleanupDisconnected.
func (p *Pool) disconnect(pc *poolConn) {
	pc.once.Do(func() {
		pc.dead.Store(true)
		p.disconnected.Add(1)
		close(pc.done)
		_ = pc.c.Close()
	})
}

// Unregister closes and removes session id's connection and moves the session to
// Disconnected (see PoolConfig.Registry). Queued messages not yet written are dropped. It
// returns ErrNotFound when id has no connection.
func (p *Pool) Unregister(id string) error {
	p.mu.Lock()
	pc, ok := p.conns[id]
	if ok {
		delete(p.conns, id)
		p.publishLocked()
	}
	p.mu.Unlock()
	if !ok {
		return ErrNotFound
	}
	p.disconnect(pc)
	p.markSession(id)
	return nil
}

func (p *Pool) markSession(id string) {
	if r := p.cfg.Registry; r != nil {
		if s, ok := r.Lookup(id); ok {
			_ = s.Transition(context.Background(), Disconnected) // rejected unless the machine allows it
		}
	}
}

// Count returns the number of connected (not disconnected) connections.
func (p *Pool) Count() int {
	n := 0
	for _, pc := range *p.snap.Load() {
		if !pc.dead.Load() {
			n++
		}
	}
	return n
}

// CountByProtocol returns the number of connected connections whose Protocol is proto.
func (p *Pool) CountByProtocol(proto string) int {
	n := 0
	for _, pc := range *p.snap.Load() {
		if pc.proto == proto && !pc.dead.Load() {
			n++
		}
	}
	return n
}

// Active returns the session IDs with a connected connection, in no particular order.
func (p *Pool) Active() []string {
	list := *p.snap.Load()
	ids := make([]string, 0, len(list))
	for _, pc := range list {
		if !pc.dead.Load() {
			ids = append(ids, pc.id)
		}
	}
	return ids
}

// Send queues msg for session id's connection. It returns ErrNotFound, ErrDisconnected, or
// ErrQueueFull when the queue is full (the message is dropped; with the Disconnect policy the
// connection is also closed). msg must not be modified afterwards.
func (p *Pool) Send(id string, msg []byte) error {
	p.mu.RLock()
	pc, ok := p.conns[id]
	p.mu.RUnlock()
	if !ok {
		return ErrNotFound
	}
	return p.enqueue(pc, msg)
}

func (p *Pool) enqueue(pc *poolConn, msg []byte) error {
	wake, err := p.push(pc, msg)
	if wake {
		pc.wake <- struct{}{} // never blocks: only the one enqueuer that saw asleep sends
	}
	return err
}

// push queues msg and reports whether the writer sleeps and must be woken by the caller.
func (p *Pool) push(pc *poolConn, msg []byte) (wake bool, err error) {
	if pc.dead.Load() {
		return false, ErrDisconnected
	}
	pc.mu.Lock()
	if len(pc.q) >= pc.limit {
		pc.mu.Unlock()
		p.dropped.Add(1)
		if p.cfg.Policy == Disconnect {
			p.disconnect(pc)
		}
		return false, ErrQueueFull
	}
	pc.q = append(pc.q, msg)
	wake = pc.asleep
	pc.asleep = false
	pc.mu.Unlock()
	return wake, nil
}

var wakeLists = sync.Pool{New: func() any { s := make([]*poolConn, 0, 64); return &s }}

// waker wakes the writers a broadcast queued messages for. Note: waking a parked goroutine
// costs ~50 ns; a broadcast hands the list here so its caller only pays for enqueueing (one
// wake instead of one per connection).
func (p *Pool) waker() {
	defer p.wg.Done()
	for {
		select {
		case l := <-p.wakeq:
			for _, pc := range *l {
				pc.wake <- struct{}{}
			}
			clear(*l)
			*l = (*l)[:0]
			wakeLists.Put(l)
		case <-p.stop:
			return
		}
	}
}

// wakeAll wakes the writers in l, through the waker when there are several.
func (p *Pool) wakeAll(l *[]*poolConn) {
	if len(*l) > 4 {
		select {
		case p.wakeq <- l:
			return
		default:
		}
	}
	for _, pc := range *l {
		pc.wake <- struct{}{}
	}
	clear(*l)
	*l = (*l)[:0]
	wakeLists.Put(l)
}

// Broadcast queues msg for every connected connection and returns how many accepted it;
// slow consumers are handled by the policy and never block it. msg is shared by all
// connections and must not be modified afterwards.
func (p *Pool) Broadcast(msg []byte) int {
	var t0 time.Time
	if p.cfg.OnBroadcast != nil {
		t0 = time.Now()
	}
	n := 0
	l := wakeLists.Get().(*[]*poolConn)
	for _, pc := range *p.snap.Load() {
		wake, err := p.push(pc, msg)
		if err == nil {
			n++
		}
		if wake {
			*l = append(*l, pc)
		}
	}
	p.wakeAll(l)
	if p.cfg.OnBroadcast != nil {
		p.cfg.OnBroadcast(n, time.Since(t0))
	}
	return n
}

// BroadcastTo queues msg for the connections of the sessions ids and returns how many
// accepted it (missing or disconnected ones are skipped).
func (p *Pool) BroadcastTo(ids []string, msg []byte) int {
	var t0 time.Time
	if p.cfg.OnBroadcast != nil {
		t0 = time.Now()
	}
	n := 0
	l := wakeLists.Get().(*[]*poolConn)
	p.mu.RLock()
	for _, id := range ids {
		if pc, ok := p.conns[id]; ok {
			wake, err := p.push(pc, msg)
			if err == nil {
				n++
			}
			if wake {
				*l = append(*l, pc)
			}
		}
	}
	p.mu.RUnlock()
	p.wakeAll(l)
	if p.cfg.OnBroadcast != nil {
		p.cfg.OnBroadcast(n, time.Since(t0))
	}
	return n
}

// CleanupDisconnected removes the disconnected connections, moves their sessions to
// Disconnected (see PoolConfig.Registry) and returns their session IDs (empty: none).
func (p *Pool) CleanupDisconnected() []string {
	var ids []string
	p.mu.Lock()
	for id, pc := range p.conns {
		if pc.dead.Load() {
			delete(p.conns, id)
			ids = append(ids, id)
		}
	}
	if len(ids) > 0 {
		p.publishLocked()
	}
	p.mu.Unlock()
	for _, id := range ids {
		p.markSession(id)
	}
	return ids
}

// PoolStats counts a pool's drops and disconnects since NewPool.
type PoolStats struct {
	// Connected is the number of connected connections.
	Connected int
	// Dropped counts messages refused by a full queue.
	Dropped int64
	// Disconnected counts connections closed (unregistered, write error, slow consumer).
	Disconnected int64
}

// Stats returns the pool's counters.
func (p *Pool) Stats() PoolStats {
	return PoolStats{Connected: p.Count(), Dropped: p.dropped.Load(), Disconnected: p.disconnected.Load()}
}

// Close closes every connection and waits for the writers to stop. Close is idempotent and
// returns nil.
func (p *Pool) Close() error {
	p.mu.Lock()
	already := p.closed
	p.closed = true
	all := make([]*poolConn, 0, len(p.conns))
	for _, pc := range p.conns {
		all = append(all, pc)
	}
	clear(p.conns)
	p.publishLocked()
	p.mu.Unlock()
	for _, pc := range all {
		p.disconnect(pc)
	}
	if !already {
		close(p.stop)
	}
	p.wg.Wait()
	return nil
}
