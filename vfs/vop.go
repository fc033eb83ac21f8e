package vfs

import (
	"fmt"

	"damselfly/sched"
)

// Op names a VOP message.
type Op uint8

const (
	OpLookup Op = iota + 1
	OpGetattr
	OpSetattr
	OpRead
	OpWrite
	OpTruncate
	OpCreate
	OpMkdir
	OpSymlink
	OpLink
	OpRemove
	OpRmdir
	OpRename
	OpReaddir
	OpReadlink
	OpOpen
	OpClose
	OpFsync
	OpSync
	opMax
)

var opNames = [...]string{
	OpLookup: "lookup", OpGetattr: "getattr", OpSetattr: "setattr", OpRead: "read",
	OpWrite: "write", OpTruncate: "truncate", OpCreate: "create", OpMkdir: "mkdir",
	OpSymlink: "symlink", OpLink: "link", OpRemove: "remove", OpRmdir: "rmdir",
	OpRename: "rename", OpReaddir: "readdir", OpReadlink: "readlink", OpOpen: "open",
	OpClose: "close", OpFsync: "fsync", OpSync: "sync",
}

func (o Op) String() string {
	if o > 0 && o < opMax {
		return opNames[o]
	}
	return fmt.Sprintf("op(%d)", uint8(o))
}

// Msg is one VOP in flight to a mount's port. The arguments are fixed when it is sent and
// the results are valid once it is replied (DoMsg returned, or the message came back on the
// reply channel of SendMsg). Names are single resolved components, never paths; Buf is the
// object range the data moves through and belongs to the message until the reply.
//
// It embeds sched.Msg: a *Msg is a sched.Message, sent to the mount's sched port. The VOP's
// own error is the Err field (the sched reply error is unused).
type Msg struct {
	sched.Msg
	Op Op

	// Arguments.
	Dir    Ino      // directory operated in (lookup, create, mkdir, symlink, link, remove, rmdir, rename, readdir)
	Ino    Ino      // node operated on (getattr, setattr, read, write, truncate, link, readlink, open, close, fsync)
	Name   string   // component in Dir
	Names  []string // lookup: the unresolved tail
	ToDir  Ino      // rename target directory
	ToName string   // rename target name
	Target string   // symlink target
	Perm   uint32   // create, mkdir
	Set    SetAttr  // setattr
	Off    int64    // read, write: byte offset; truncate: new size
	Buf    []byte   // read, write
	Cookie uint64   // readdir
	Max    int      // readdir

	// Results.
	Results []LookupResult // lookup
	Attr    Attr           // getattr
	N       int            // read, write: bytes moved
	NewIno  Ino            // create, mkdir, symlink
	Entries []DirEntry     // readdir
	Next    uint64         // readdir: cookie to continue from
	Link    string         // readlink
	Err     error

	reply chan<- *Msg   // SendMsg from a goroutine: where the finished message goes
	done  chan struct{} // DoMsg from a goroutine of a queued message: closed by the reply
	tried bool          // the sender already tried the fast path: the put only queues
	stop  bool          // not a VOP: ends the filesystem thread that receives it
}

// dispatch performs m on fs. It runs on a filesystem thread, or in the sender's context on the
// fast path.
func dispatch(fs Filesystem, m *Msg) {
	switch m.Op {
	case OpLookup:
		m.Results, m.Err = fs.Lookup(m.Dir, m.Names)
	case OpGetattr:
		m.Attr, m.Err = fs.Getattr(m.Ino)
	case OpSetattr:
		m.Err = fs.Setattr(m.Ino, m.Set)
	case OpRead:
		m.N, m.Err = fs.Read(m.Ino, m.Buf, m.Off)
	case OpWrite:
		m.N, m.Err = fs.Write(m.Ino, m.Buf, m.Off)
	case OpTruncate:
		m.Err = fs.Truncate(m.Ino, m.Off)
	case OpCreate:
		m.NewIno, m.Err = fs.Create(m.Dir, m.Name, m.Perm)
	case OpMkdir:
		m.NewIno, m.Err = fs.Mkdir(m.Dir, m.Name, m.Perm)
	case OpSymlink:
		m.NewIno, m.Err = fs.Symlink(m.Dir, m.Name, m.Target)
	case OpLink:
		m.Err = fs.Link(m.Ino, m.Dir, m.Name)
	case OpRemove:
		m.Err = fs.Remove(m.Dir, m.Name)
	case OpRmdir:
		m.Err = fs.Rmdir(m.Dir, m.Name)
	case OpRename:
		m.Err = fs.Rename(m.Dir, m.Name, m.ToDir, m.ToName)
	case OpReaddir:
		m.Entries, m.Next, m.Err = fs.Readdir(m.Dir, m.Cookie, m.Max)
	case OpReadlink:
		m.Link, m.Err = fs.Readlink(m.Ino)
	case OpOpen:
		m.Err = fs.Open(m.Ino)
	case OpClose:
		m.Err = fs.Close(m.Ino)
	case OpFsync:
		m.Err = fs.Fsync(m.Ino)
	case OpSync:
		m.Err = fs.Sync()
	default:
		m.Err = fmt.Errorf("vfs: %v: %w", m.Op, ENOTSUP)
	}
}
