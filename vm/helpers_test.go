package vm

import "runtime"

func runtimeGosched() { runtime.Gosched() }
