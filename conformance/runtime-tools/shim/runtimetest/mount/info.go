// Package mount: the Info type and GetMounts that upstream's
// cmd/runtimetest/mount package declares in a file no stored copy holds.
// hull's own stand-in, matching the fields mountinfo_linux.go fills.
package mount

// Info is one line of /proc/self/mountinfo.
type Info struct {
	ID, Parent, Major, Minor int
	Root, Mountpoint, Opts   string
	Optional                 string
	Fstype, Source, VfsOpts  string
}

// GetMounts parses the calling process's mount table.
func GetMounts() ([]*Info, error) {
	return parseMountTable()
}
