// Copyright 2026 The Damselfly Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

//go:build !tamago

package runtime

// Damselfly: GOOS=tamago hooks referenced from shared scheduler code under
// GOOS == "tamago" conditions (proc.go); never called elsewhere.

func tamagoCanStartM() bool { return true }

func tamagoHwinit1() {}

func tamagoPinBreakPoll(mp *m) {}
