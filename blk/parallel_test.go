package blk

import (
	"errors"
	"sync/atomic"
	"testing"
)

func TestParallel(t *testing.T) {
	var seen [100]atomic.Int32
	if err := Parallel(4, len(seen), func(_, k int) error { seen[k].Add(1); return nil }); err != nil {
		t.Fatal(err)
	}
	for k := range seen {
		if n := seen[k].Load(); n != 1 {
			t.Fatalf("k=%d ran %d times", k, n)
		}
	}
	boom := errors.New("boom")
	var ran atomic.Int32
	err := Parallel(1, 100, func(_, k int) error {
		ran.Add(1)
		if k == 10 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) || ran.Load() != 11 {
		t.Fatalf("err %v after %d calls, want boom after 11 (one worker stops at the error)", err, ran.Load())
	}
	if err := Parallel(0, 0, func(_, _ int) error { return boom }); err != nil {
		t.Fatalf("no work: %v", err)
	}
}
