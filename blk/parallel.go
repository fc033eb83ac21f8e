package blk

import (
	"sync"
	"sync/atomic"
)

// Parallel runs fn(w, k) for every k in 0..count-1 on max(1, min(workers,
// count)) goroutines, w being the goroutine's number, and stops handing out
// work at the first error, which it returns. It is how the self-test and
// the storage benchmark keep several requests in flight.
func Parallel(workers, count int, fn func(w, k int) error) error {
	workers = max(1, min(workers, count))
	var (
		next   atomic.Int64
		failed atomic.Bool
		once   sync.Once
		first  error
		wg     sync.WaitGroup
	)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !failed.Load() {
				k := int(next.Add(1) - 1)
				if k >= count {
					return
				}
				if err := fn(w, k); err != nil {
					once.Do(func() { first = err })
					failed.Store(true)
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}
