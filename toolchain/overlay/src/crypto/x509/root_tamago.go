// Copyright 2026 The Damselfly Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

//go:build tamago

package x509

// A unikernel has no system certificate store; programs embed their roots
// (or set SSL_CERT_FILE/SSL_CERT_DIR once a file system is attached).
var certFiles = []string{}

var certDirectories = []string{}
