package tlsrpt

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/moonpost/moonpost/core/internal/durable"
)

// Bounds on what one period keeps: a sender to many domains, or a
// receiver with many broken addresses, costs bounded memory and disk.
const (
	maxDomains   = 10000 // policy domains per period; later ones are not counted
	maxDetails   = 100   // failure-details per policy; later failures count in the summary only
	maxDetailLen = 200   // additional-information is cut here
)

// Store counts sessions per reporting period and policy. Record is
// cheap (memory only); Flush writes the periods to Dir, one file each,
// so a restart keeps the counts up to the last flush. Safe for
// concurrent use.
type Store struct {
	Dir string // "" keeps counts in memory only
	// Interval is the length of a reporting period, periods aligned to
	// multiples of it since the zero time (default 24h: UTC days).
	Interval time.Duration
	Clock    Clock        // nil: the system clock
	Logger   *slog.Logger // nil: slog.Default()

	once    sync.Once
	mu      sync.Mutex
	periods map[int64]*period // by start, Unix seconds
	dirty   map[int64]bool    // changed since the last flush
}

// Clock tells the time.
type Clock interface{ Now() time.Time }

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// period is one reporting period's counts.
type period struct {
	Start    time.Time                `json:"start"`
	End      time.Time                `json:"end"`
	Policies map[string]*policyCounts `json:"policies"`       // by policyKey
	Sent     map[string]bool          `json:"sent,omitempty"` // policy domains reported
}

type policyCounts struct {
	Policy  Policy             `json:"policy"`
	Success int64              `json:"success"`
	Failure int64              `json:"failure"`
	Details map[string]*detail `json:"details,omitempty"` // by detailKey
}

type detail struct {
	Result      ResultType `json:"result"`
	SendingIP   string     `json:"sending_ip,omitempty"`
	ReceivingIP string     `json:"receiving_ip,omitempty"`
	MXHost      string     `json:"mx_host,omitempty"`
	MXHelo      string     `json:"mx_helo,omitempty"`
	Info        string     `json:"info,omitempty"`
	Count       int64      `json:"count"`
}

func (s *Store) init() {
	s.once.Do(func() {
		if s.Interval <= 0 {
			s.Interval = 24 * time.Hour
		}
		if s.Clock == nil {
			s.Clock = systemClock{}
		}
		if s.Logger == nil {
			s.Logger = slog.Default()
		}
		s.periods, s.dirty = map[int64]*period{}, map[int64]bool{}
		if s.Dir != "" {
			s.load()
		}
	})
}

// Record implements Recorder.
func (s *Store) Record(ses Session) {
	s.init()
	now := s.Clock.Now().UTC()
	start := now.Truncate(s.Interval)
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.periods[start.Unix()]
	if p == nil {
		p = &period{Start: start, End: start.Add(s.Interval), Policies: map[string]*policyCounts{}}
		s.periods[start.Unix()] = p
	}
	s.dirty[start.Unix()] = true
	p.count(ses, s.Logger)
}

func (p *period) count(ses Session, log *slog.Logger) {
	key := policyKey(ses.Policy)
	pc := p.Policies[key]
	if pc == nil {
		if len(p.Policies) >= maxDomains {
			log.Warn("tlsrpt: too many policies in one period, session not counted", "domain", ses.Policy.Domain)
			return
		}
		pc = &policyCounts{Policy: ses.Policy, Details: map[string]*detail{}}
		p.Policies[key] = pc
	}
	if ses.Result == "" {
		pc.Success++
		return
	}
	pc.Failure++
	d := detail{Result: ses.Result, SendingIP: ses.SendingIP, ReceivingIP: ses.ReceivingIP,
		MXHost: ses.MXHost, MXHelo: ses.MXHelo, Info: cut(ses.Detail, maxDetailLen)}
	dk := d.key()
	switch {
	case pc.Details[dk] != nil:
		pc.Details[dk].Count++
	case len(pc.Details) < maxDetails:
		d.Count = 1
		pc.Details[dk] = &d
	}
}

// policyKey tells policies apart: same type, domain, text and hosts
// count together.
func policyKey(p Policy) string {
	return string(p.Type) + "\x00" + p.Domain + "\x00" + strings.Join(p.String, "\n") + "\x00" + strings.Join(p.MXHost, " ")
}

func (d *detail) key() string {
	return strings.Join([]string{string(d.Result), d.SendingIP, d.ReceivingIP, d.MXHost, d.MXHelo, d.Info}, "\x00")
}

func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// due returns copies of the periods that ended by now, oldest first.
func (s *Store) due(now time.Time) []*period {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*period
	for _, p := range s.periods {
		if !now.Before(p.End) {
			out = append(out, p.copy())
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	return out
}

func (p *period) copy() *period {
	data, _ := json.Marshal(p)
	var c period
	_ = json.Unmarshal(data, &c)
	return &c
}

// markSent records that domain's report for the period went out.
func (s *Store) markSent(start time.Time, domain string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.periods[start.Unix()]; p != nil {
		if p.Sent == nil {
			p.Sent = map[string]bool{}
		}
		p.Sent[domain] = true
		s.dirty[start.Unix()] = true
	}
}

// drop forgets a period that is fully reported (or given up on).
func (s *Store) drop(start time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.periods, start.Unix())
	delete(s.dirty, start.Unix())
	if s.Dir != "" {
		_ = os.Remove(s.fileName(start.Unix()))
	}
}

// Flush writes the periods changed since the last flush.
func (s *Store) Flush() error {
	s.init()
	if s.Dir == "" {
		return nil
	}
	s.mu.Lock()
	var todo []*period
	for k := range s.dirty {
		if p := s.periods[k]; p != nil {
			todo = append(todo, p.copy())
		}
	}
	clear(s.dirty)
	s.mu.Unlock()
	var first error
	for _, p := range todo {
		if err := s.write(p); err != nil && first == nil {
			first = err
			s.mu.Lock()
			s.dirty[p.Start.Unix()] = true // try again at the next flush
			s.mu.Unlock()
		}
	}
	return first
}

func (s *Store) fileName(start int64) string {
	return filepath.Join(s.Dir, strconv.FormatInt(start, 10)+".json")
}

// write stores a period: temp file, fsync, rename, fsync the directory.
func (s *Store) write(p *period) error {
	data, err := json.Marshal(p)
	if err != nil {
		return err
	}
	return durable.WriteFile(s.Dir, s.fileName(p.Start.Unix()), data)
}

// load reads the stored periods back. A file that does not parse is
// renamed aside (never deleted) and logged.
func (s *Store) load() {
	ents, err := os.ReadDir(s.Dir)
	if err != nil {
		if !os.IsNotExist(err) {
			s.Logger.Warn("tlsrpt: cannot read the report store", "dir", s.Dir, "err", err)
		}
		return
	}
	for _, de := range ents {
		name := de.Name()
		start, err := strconv.ParseInt(strings.TrimSuffix(name, ".json"), 10, 64)
		if err != nil || !strings.HasSuffix(name, ".json") {
			continue
		}
		p, err := readPeriod(filepath.Join(s.Dir, name))
		if err != nil || p.Start.Unix() != start {
			s.Logger.Warn("tlsrpt: unreadable period file set aside", "file", name, "err", err)
			_ = os.Rename(filepath.Join(s.Dir, name), filepath.Join(s.Dir, name+".corrupt"))
			continue
		}
		s.periods[start] = p
	}
}

func readPeriod(path string) (*period, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var p period
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, err
	}
	if p.Policies == nil || !p.End.After(p.Start) {
		return nil, fmt.Errorf("incomplete period")
	}
	for _, pc := range p.Policies {
		if pc.Details == nil {
			pc.Details = map[string]*detail{}
		}
	}
	return &p, nil
}
