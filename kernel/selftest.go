// Self-tests: named checks the command line selects (selftest=time,smp)
// that run after boot. Each prints exactly one result line,
//
//	selftest <name>: ok
//	selftest <name>: FAIL <reason>
//
// and the kernel then powers off with success only if all passed. Other
// packages add their own checks by name (sched adds lwkt, blk adds blk...)
// from an init function.

package kernel

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"sync"
)

// SelfTest is one check; a nil error is a pass.
type SelfTest func(t *T) error

// T is handed to a running self-test.
type T struct {
	Name string
	Log  *Log // may be nil in tests
}

// Logf writes a progress line to the kernel log at info level.
func (t *T) Logf(format string, args ...any) {
	if t.Log != nil {
		t.Log.Infof("selftest %s: "+format, append([]any{t.Name}, args...)...)
	}
}

// SelfTests is a registry of self-tests.
type SelfTests struct {
	mu    sync.Mutex
	tests map[string]SelfTest
}

// Register adds a test; registering a name twice is a programming error
// reported at boot, not a panic, so the duplicate's owner can be found.
func (r *SelfTests) Register(name string, fn SelfTest) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.tests == nil {
		r.tests = make(map[string]SelfTest)
	}
	if _, dup := r.tests[name]; dup {
		return fmt.Errorf("selftest: %q registered twice", name)
	}
	r.tests[name] = fn
	return nil
}

// Names lists the registered tests, sorted.
func (r *SelfTests) Names() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := make([]string, 0, len(r.tests))
	for k := range r.tests {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

func (r *SelfTests) lookup(name string) SelfTest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.tests[name]
}

// Run runs the named tests in order and writes one result line per name to
// w. A test that panics fails with the panic value; an unknown name fails
// and lists the known ones. It returns whether every test passed.
func (r *SelfTests) Run(w io.Writer, log *Log, names []string) bool {
	allOK := true
	for _, name := range names {
		err := r.runOne(log, name)
		if err != nil {
			allOK = false
			reason := strings.ReplaceAll(err.Error(), "\n", "; ")
			fmt.Fprintf(w, "selftest %s: FAIL %s\n", name, reason)
			continue
		}
		fmt.Fprintf(w, "selftest %s: ok\n", name)
	}
	return allOK
}

func (r *SelfTests) runOne(log *Log, name string) (err error) {
	fn := r.lookup(name)
	if fn == nil {
		known := r.Names()
		known = slices.DeleteFunc(known, func(s string) bool { return s == name })
		return fmt.Errorf("unknown self-test (known: %s)", strings.Join(known, ", "))
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return fn(&T{Name: name, Log: log})
}

// Tests is the kernel's registry. It is filled by init functions of the
// packages linked into the kernel and read once, after boot, by Run.
var Tests SelfTests

// RegisterSelfTest adds a test to the kernel's registry; call it from an
// init function.
func RegisterSelfTest(name string, fn SelfTest) {
	if err := Tests.Register(name, fn); err != nil {
		// Reported on the console at boot by bootErrors.
		registerErrors = append(registerErrors, err)
	}
}

// registerErrors collects registration mistakes made during package
// initialisation (single goroutine); Main prints them and fails the boot.
var registerErrors []error
