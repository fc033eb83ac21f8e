package memfs

import "io/fs"

type fsMode = fs.FileMode

const (
	modeSetuid = fs.ModeSetuid
	modeSetgid = fs.ModeSetgid
	modeSticky = fs.ModeSticky
)
