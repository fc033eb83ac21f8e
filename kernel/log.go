// The kernel log: leveled messages on the serial console, each stamped with
// the monotonic time since boot in Linux's "[seconds.micros]" form so the
// two can be read side by side:
//
//	[    0.123456] info: smp: 4 CPUs online
//
// Messages below the configured level are dropped (and counted). Lines are
// written whole under a mutex so CPUs do not interleave.

package kernel

import (
	"fmt"
	"io"
	"sync"

	"damselfly/board"
)

// Log is a leveled, timestamped console log. It is safe for concurrent use.
type Log struct {
	mu      sync.Mutex
	w       io.Writer
	now     func() int64 // ns since boot
	level   board.LogLevel
	dropped uint64 // below level; under mu
	buf     []byte // reused line buffer; under mu
}

// NewLog writes to w, timestamps with now (nanoseconds since boot) and shows
// messages at or above level.
func NewLog(w io.Writer, now func() int64, level board.LogLevel) *Log {
	return &Log{w: w, now: now, level: level}
}

// SetLevel changes the threshold.
func (l *Log) SetLevel(level board.LogLevel) {
	l.mu.Lock()
	l.level = level
	l.mu.Unlock()
}

// Dropped counts messages filtered out by level.
func (l *Log) Dropped() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.dropped
}

// Stamp formats a boot-relative time as "[    s.micros]".
func Stamp(ns int64) string {
	if ns < 0 {
		ns = 0
	}
	us := ns / 1000
	return fmt.Sprintf("[%5d.%06d]", us/1e6, us%1e6)
}

// Printf logs one message; a trailing newline is added if missing.
func (l *Log) Printf(level board.LogLevel, format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if level < l.level {
		l.dropped++
		return
	}
	b := append(l.buf[:0], Stamp(l.now())...)
	b = append(b, ' ')
	b = append(b, level.String()...)
	b = append(b, ": "...)
	b = fmt.Appendf(b, format, args...)
	if len(b) == 0 || b[len(b)-1] != '\n' {
		b = append(b, '\n')
	}
	l.w.Write(b)
	l.buf = b
}

func (l *Log) Debugf(format string, args ...any) { l.Printf(board.LogDebug, format, args...) }
func (l *Log) Infof(format string, args ...any)  { l.Printf(board.LogInfo, format, args...) }
func (l *Log) Warnf(format string, args ...any)  { l.Printf(board.LogWarn, format, args...) }
func (l *Log) Errorf(format string, args ...any) { l.Printf(board.LogError, format, args...) }

// Raw writes text without stamp or level: the banner, the ready line and
// self-test results, whose exact form tools match on.
func (l *Log) Raw(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	io.WriteString(l.w, s)
}
