package vfs_test

import "runtime"

func runtimeGosched() { runtime.Gosched() }
