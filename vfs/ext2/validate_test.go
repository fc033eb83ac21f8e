package ext2

import (
	"encoding/binary"
	"errors"
	"os"
	"strings"
	"testing"
)

// patch returns a copy of the small test image with fn applied to its superblock bytes.
func patchedImage(t testing.TB, fn func(sb []byte)) []byte {
	img, err := os.ReadFile("testdata/small.img")
	if err != nil {
		t.Fatal(err)
	}
	fn(img[superblockOffset : superblockOffset+superblockSize])
	return img
}

func TestValidationRefuses(t *testing.T) {
	le := binary.LittleEndian
	cases := []struct {
		name   string
		patch  func(sb []byte)
		ro     bool
		reason string
	}{
		{"bad magic", func(sb []byte) { le.PutUint16(sb[56:], 0x1234) }, true, "bad magic"},
		{"extents", func(sb []byte) { le.PutUint32(sb[96:], le.Uint32(sb[96:])|incompatExtents) }, true, "extents"},
		{"journal needs recovery", func(sb []byte) { le.PutUint32(sb[96:], le.Uint32(sb[96:])|incompatRecover) }, true, "journal needs recovery"},
		{"64bit", func(sb []byte) { le.PutUint32(sb[96:], le.Uint32(sb[96:])|incompat64Bit) }, true, "64bit"},
		{"meta_bg", func(sb []byte) { le.PutUint32(sb[96:], le.Uint32(sb[96:])|incompatMetaBG) }, true, "meta_bg"},
		{"huge block size", func(sb []byte) { le.PutUint32(sb[24:], 7) }, true, "block size"},
		{"blocks per group", func(sb []byte) { le.PutUint32(sb[32:], 1<<20) }, true, "blocks per group"},
		{"inode count", func(sb []byte) { le.PutUint32(sb[0:], 17) }, true, "inode count"},
		{"beyond device", func(sb []byte) { le.PutUint32(sb[4:], 1<<20) }, true, "exceeds device"},
		{"inode size", func(sb []byte) { le.PutUint16(sb[88:], 100) }, true, "inode size"},
		{"first data block", func(sb []byte) { le.PutUint32(sb[20:], 0) }, true, "first data block"},
		{"rw with metadata_csum", func(sb []byte) { le.PutUint32(sb[100:], le.Uint32(sb[100:])|0x400) }, false, "metadata_csum"},
		{"rw with journal", func(sb []byte) { le.PutUint32(sb[92:], le.Uint32(sb[92:])|compatHasJournal) }, false, "journal"},
		{"rw unclean", func(sb []byte) { le.PutUint16(sb[58:], 0) }, false, "not cleanly unmounted"},
		{"rw with errors", func(sb []byte) { le.PutUint16(sb[58:], stateValid|stateError) }, false, "errors"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			img := patchedImage(t, tc.patch)
			orig := append([]byte(nil), img...)
			_, err := Mount(&memDev{b: img}, Options{ReadOnly: tc.ro})
			if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), tc.reason) {
				t.Fatalf("mount: %v; want refusal mentioning %q", err, tc.reason)
			}
			if string(img) != string(orig) {
				t.Fatal("refused disk was written")
			}
		})
	}
	// The read-only-compatible refusals still allow a read-only mount.
	img := patchedImage(t, func(sb []byte) { le.PutUint32(sb[100:], le.Uint32(sb[100:])|0x400) })
	if _, err := Mount(&memDev{b: img}, Options{ReadOnly: true}); err != nil {
		t.Fatalf("read-only mount of metadata_csum image: %v", err)
	}
}

func TestGroupDescriptorRefused(t *testing.T) {
	img := patchedImage(t, func([]byte) {})
	// Group descriptor table at block 2 (1 KiB blocks): point the inode table past the end.
	binary.LittleEndian.PutUint32(img[2048+8:], 60)
	_, err := Mount(&memDev{b: img}, Options{ReadOnly: true})
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "inode table") {
		t.Fatalf("mount: %v", err)
	}
}

func TestExt4Refused(t *testing.T) {
	needTools(t)
	img := mkfs(t, 4096, 8<<20, "", "-O", "extent")
	_, err := Mount(openDev(t, img), Options{ReadOnly: true})
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "extents") {
		t.Fatalf("mount of extent image: %v", err)
	}
}
