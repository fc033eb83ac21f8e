package board

import (
	"strings"
	"sync"
	"testing"
)

func TestProfileTimeline(t *testing.T) {
	var p Profile
	// 1 GHz: one tick is a nanosecond. Marked out of order, as CPUs do.
	p.Mark("b", 3_000_000)
	p.Mark("a", 1_500_000)
	p.Mark("c", 3_250_000)
	var b strings.Builder
	if err := WriteProfile(&b, "bp: ", p.Marks(), 1_000_000, 1e9); err != nil {
		t.Fatal(err)
	}
	want := []struct{ at, delta, name string }{
		{"0.500", "0.500", "a"},
		{"2.000", "1.500", "b"},
		{"2.250", "0.250", "c"},
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != len(want)+1 {
		t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(want)+1, b.String())
	}
	for i, w := range want {
		f := strings.Fields(strings.TrimPrefix(lines[i+1], "bp: "))
		if len(f) != 3 || f[0] != w.at || f[1] != w.delta || f[2] != w.name {
			t.Errorf("line %d = %q, want at %s delta %s %s", i+1, lines[i+1], w.at, w.delta, w.name)
		}
	}
}

func TestProfileBeforeEntryAndNoRate(t *testing.T) {
	var p Profile
	p.Mark("early", 100)
	var b strings.Builder
	if err := WriteProfile(&b, "", p.Marks(), 1_000_100, 1e9); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "-1.000") {
		t.Errorf("a mark before entry should be negative:\n%s", b.String())
	}
	if err := WriteProfile(&b, "", p.Marks(), 0, 0); err == nil {
		t.Error("no error without a TSC rate")
	}
}

func TestProfileFullAndConcurrent(t *testing.T) {
	var p Profile
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < ProfileMarks; i++ {
				p.Mark("x", uint64(i))
			}
		}()
	}
	wg.Wait()
	if got := len(p.Marks()); got != ProfileMarks {
		t.Errorf("%d marks kept, want %d", got, ProfileMarks)
	}
	if got := p.Dropped.Load(); got != 3*ProfileMarks {
		t.Errorf("%d dropped, want %d", got, 3*ProfileMarks)
	}
}
