// Copyright 2026 The Damselfly Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

//go:build tamago

package time

import "syscall"

var platformZoneSources = []string{
	"/usr/share/zoneinfo/",
}

// initLocal sets Local to UTC unless $TZ names a zone: a unikernel has no
// system time zone.
func initLocal() {
	tz, ok := syscall.Getenv("TZ")
	if ok && tz != "" && tz != "UTC" {
		if z, err := loadLocation(tz, platformZoneSources); err == nil {
			localLoc = *z
			return
		}
	}
	localLoc.name = "UTC"
}
