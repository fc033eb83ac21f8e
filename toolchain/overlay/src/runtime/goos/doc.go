// Copyright 2026 The Damselfly Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

// Package goos is the machine interface of the GOOS=tamago runtime: the
// runtime calls these hooks for memory layout, time, console output,
// randomness, CPUs and idling (see the tamago module's goos package, whose
// contract this follows).
//
// When the go command runs with GOOSPKG set (e.g. to
// github.com/usbarmory/tamago), the import path runtime/goos is served by
// $GOOSPKG/goos from the main module's dependencies, whose hooks are filled
// in by board packages. Without GOOSPKG this package is used: an
// implementation for running GOOS=tamago programs as Linux processes
// (amd64), which is how the port is tested.
package goos
