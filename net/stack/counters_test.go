package stack

import (
	"reflect"
	"testing"
)

// Every numeric counter of a thread snapshot, TCP's included, is summed
// into the total: a field added to tcp.Stats and forgotten in add fails here.
func TestTotalsSumEveryCounter(t *testing.T) {
	var one ThreadStats
	var fill func(v reflect.Value)
	fill = func(v reflect.Value) {
		for i := 0; i < v.NumField(); i++ {
			f := v.Field(i)
			switch f.Kind() {
			case reflect.Uint64, reflect.Int:
				if v.Type().Field(i).Name != "Thread" {
					f.SetUint(1)
				}
			case reflect.Struct:
				fill(f)
			}
		}
	}
	// SetUint panics on int fields; none of the counters are ints.
	fill(reflect.ValueOf(&one).Elem())
	var total ThreadStats
	total.add(one)
	total.add(one)
	var check func(path string, v reflect.Value)
	check = func(path string, v reflect.Value) {
		for i := 0; i < v.NumField(); i++ {
			f, name := v.Field(i), path+v.Type().Field(i).Name
			switch f.Kind() {
			case reflect.Uint64:
				if f.Uint() != 2 {
					t.Errorf("%s = %d after adding 1 twice", name, f.Uint())
				}
			case reflect.Struct:
				check(name+".", f)
			}
		}
	}
	check("", reflect.ValueOf(total))
}
