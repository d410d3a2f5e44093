package hooks

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/moonpost/moonpost/core/throttle"
	"github.com/moonpost/moonpost/stdlib/dns"
	"github.com/moonpost/moonpost/stdlib/kv"
	"github.com/moonpost/moonpost/stdlib/lookup"
	stdsql "github.com/moonpost/moonpost/stdlib/sql"
)

// Config configures an Engine. Zero values take the defaults noted.
type Config struct {
	Dir    string       // scripts folder: every *.lua except *_test.lua is loaded
	Logger *slog.Logger // nil: slog.Default()

	// FS, when set, is where the scripts are read instead of Dir (the
	// default policy embedded in the binary); Dir may then be empty and
	// only names the folder relative lookup tables start from. An FS is
	// not watched: Reload reads it again.
	FS fs.FS

	// CallTimeout bounds one hook call, all handlers included (250ms).
	CallTimeout time.Duration
	// LoadTimeout bounds loading a generation's scripts into one state and
	// running its selftests (5s).
	LoadTimeout time.Duration
	// PoolSize is how many idle Lua states a generation keeps; busier
	// moments create more and close them after use (2×GOMAXPROCS).
	PoolSize int

	// MemoryLimit is how much, in bytes, the Go heap may grow while one
	// call runs before that call is cancelled (512 MiB; negative
	// disables). What the heap held before the call does not count; see
	// memory.go for what does.
	MemoryLimit int64
	// MaxString bounds every string a script builds: concatenation,
	// string.rep, string.format, string.gsub, table.concat (16 MiB).
	MaxString int
	// CallStackSize bounds Lua call depth (200); RegistryMaxSize bounds
	// the value stack of one state (256k slots).
	CallStackSize   int
	RegistryMaxSize int

	// Config is the daemon configuration, exposed read-only as the
	// "config" module.
	Config map[string]any
	// Resolver serves the "dns" module; nil makes every look-up fail.
	Resolver dns.Resolver
	// TableDirs are folders besides Dir that lookup tables may be read from.
	TableDirs []string

	// Watch enables reloading on changes in Dir; Debounce is the quiet
	// time after the last change before a reload (100ms).
	Watch    bool
	Debounce time.Duration
	// KVMaxKeys and KVMaxBytes bound the shared "kv" store (100000
	// keys, 64 MiB: keys, string values and 64 bytes per entry).
	KVMaxKeys  int
	KVMaxBytes int

	// BreakerThreshold is how many failed calls of an event in a row
	// open its circuit breaker (5; negative disables); BreakerCooldown is
	// how long it stays open before one probe call may run (30s).
	// BreakerFallback is what an open breaker answers: "tempfail" (the
	// usual hook error: 451 4.3.0 or a deferral) or "skip" (as if no
	// handler had decided). See breaker.go.
	BreakerThreshold int
	BreakerCooldown  time.Duration
	BreakerFallback  string
	// ErrorLogInterval is the least time between two log lines about
	// failed calls of one event; the lines held back are counted in the
	// next one (10s).
	ErrorLogInterval time.Duration

	// Shared policy state for the "throttle", "redis" and "sql" modules
	// and the lookup.redis and lookup.sql tables. A nil Throttle keeps
	// every limit in the node; a nil Redis or SQL makes those calls fail.
	Throttle *throttle.Limiter
	Redis    goredis.UniversalClient
	SQL      *stdsql.DBs
}

func (c *Config) setDefaults() {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	setDur(&c.CallTimeout, 250*time.Millisecond)
	setDur(&c.LoadTimeout, 5*time.Second)
	setDur(&c.Debounce, 100*time.Millisecond)
	setInt(&c.PoolSize, 2*runtime.GOMAXPROCS(0))
	setInt(&c.MaxString, 16<<20)
	setInt(&c.CallStackSize, 200)
	setInt(&c.RegistryMaxSize, 256*1024)
	if c.MemoryLimit == 0 {
		c.MemoryLimit = 512 << 20
	}
	if c.BreakerThreshold == 0 {
		c.BreakerThreshold = 5
	}
	setDur(&c.BreakerCooldown, 30*time.Second)
	setDur(&c.ErrorLogInterval, 10*time.Second)
	if c.BreakerFallback == "" {
		c.BreakerFallback = FallbackTempfail
	}
}

// The values of Config.BreakerFallback.
const (
	FallbackTempfail = "tempfail"
	FallbackSkip     = "skip"
)

func setDur(d *time.Duration, def time.Duration) {
	if *d <= 0 {
		*d = def
	}
}

func setInt(n *int, def int) {
	if *n <= 0 {
		*n = def
	}
}

// maxErrors is how many recent load errors Errors keeps.
const maxErrors = 20

// Engine runs the operator's Lua scripts for the rest of the daemon. It
// implements the policy interfaces and is safe for concurrent use.
type Engine struct {
	cfg    Config
	log    *slog.Logger
	cur    atomic.Pointer[generation] // the live generation; never nil after New
	kv     *kv.Store                  // shared by all states and generations
	tables *lookup.Registry           // shared table cache
	mem    *memWatch
	now    func() time.Time // the breakers' and log limiters' clock; tests set it

	busy    atomic.Int64 // calls running now, for Lua (stats.go)
	history genHistory   // figures of retired generations (stats.go)

	mu      sync.Mutex // serialises reloads; guards the fields below
	lastGen int        // number of the last generation swapped in
	lastErr error      // error of the last reload attempt, nil if it worked
	errs    []string   // recent reload errors, oldest first
	tries   int        // reload attempts so far, for tests that wait on one
	changed chan struct{}

	stop chan struct{} // closed by Close
	wg   sync.WaitGroup
	once sync.Once
}

// New loads the scripts in cfg.Dir and starts watching them when
// cfg.Watch is set. Scripts that fail to load at start are an error:
// the daemon must not run with no policy or a half policy.
func New(cfg Config) (*Engine, error) {
	cfg.setDefaults()
	tables := cfg.Dir
	switch {
	case cfg.Dir == "" && cfg.FS == nil:
		return nil, errors.New("hooks: no scripts folder")
	case cfg.FS != nil && cfg.Watch:
		return nil, errors.New("hooks: embedded scripts cannot be watched")
	case cfg.Dir == "":
		tables = noTables
	}
	e := &Engine{
		cfg:     cfg,
		log:     cfg.Logger.With("component", "hooks"),
		kv:      kv.New(kv.Limits{MaxKeys: cfg.KVMaxKeys, MaxBytes: cfg.KVMaxBytes}, nil),
		tables:  lookup.NewRegistry(tables, cfg.TableDirs).WithShared(cfg.Redis, cfg.SQL),
		changed: make(chan struct{}),
		stop:    make(chan struct{}),
	}
	e.now = time.Now
	if cfg.BreakerFallback != FallbackTempfail && cfg.BreakerFallback != FallbackSkip {
		return nil, fmt.Errorf("hooks: breaker fallback %q: want %q or %q", cfg.BreakerFallback, FallbackTempfail, FallbackSkip)
	}
	if err := e.Reload(); err != nil {
		return nil, err
	}
	e.mem = newMemWatch(cfg.MemoryLimit)
	e.wg.Add(2)
	go e.mem.run(e.stop, &e.wg)
	go func() { defer e.wg.Done(); e.kv.Run(e.stop) }()
	if cfg.Watch {
		if err := e.watch(); err != nil {
			e.Close()
			return nil, err
		}
	}
	return e, nil
}

// Close stops watching. Calls in flight finish; later calls still work
// on the last generation.
func (e *Engine) Close() error {
	e.once.Do(func() { close(e.stop) })
	e.wg.Wait()
	return nil
}

// Reload builds a new generation from the scripts folder and swaps it in
// if it loads and its selftests pass. On failure the running generation
// stays and the error is kept for LastError and Errors.
func (e *Engine) Reload() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	defer e.notify()
	e.tries++
	n := e.lastGen + 1
	g, err := e.build(n)
	if err != nil {
		e.lastErr = err
		e.errs = append(e.errs, time.Now().Format(time.RFC3339)+" "+err.Error())
		if len(e.errs) > maxErrors {
			e.errs = e.errs[len(e.errs)-maxErrors:]
		}
		e.log.Error("scripts rejected; previous generation stays", "generation", e.lastGen, "error", err)
		return err
	}
	e.lastGen, e.lastErr = n, nil
	e.history.retire(e.cur.Load())
	e.cur.Store(g)
	e.log.Info("scripts loaded", "generation", n, "scripts", len(g.scripts), "handlers", g.counts)
	for _, w := range g.warnings {
		e.log.Warn("scripts: "+w, "generation", n)
	}
	return nil
}

// Warnings lists what the live generation does that works in this
// release only (an auth handler in the old argument order), each as
// "file.lua:LINE: what; what to do". moonpost check prints them.
func (e *Engine) Warnings() []string {
	return append([]string(nil), e.cur.Load().warnings...)
}

// notify wakes everyone waiting on Reloaded. Called with e.mu held.
func (e *Engine) notify() {
	close(e.changed)
	e.changed = make(chan struct{})
}

// Reloaded returns a channel closed at the end of the next reload
// attempt, successful or not.
func (e *Engine) Reloaded() <-chan struct{} {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.changed
}

// Generation reports the live generation's number and load time.
func (e *Engine) Generation() (n int, loadedAt time.Time) {
	g := e.cur.Load()
	return g.n, g.loadedAt
}

// LastError is the error of the last reload attempt, nil if it worked.
func (e *Engine) LastError() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.lastErr
}

// Errors lists recent reload errors, oldest first, each with its time.
func (e *Engine) Errors() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.errs...)
}

// Throttle is the rate limiter the scripts' "throttle" module uses (nil
// when none was configured), for the engine's own limits to count in
// the same place.
func (e *Engine) Throttle() *throttle.Limiter { return e.cfg.Throttle }
