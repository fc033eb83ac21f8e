package board

import (
	"reflect"
	"testing"
)

func TestExtraHeap(t *testing.T) {
	const gib = 1 << 30
	low := Region{0x100000, 3 * gib}
	high := Region{4 * gib, 6 * gib}
	for _, tc := range []struct {
		name          string
		usable        []Region
		above, limit  uint64
		extra, beyond []Region
	}{
		{"below 4 GiB only", []Region{{0, 0x9f000}, low}, 0x20000000, 64 * gib, nil, nil},
		{"above the hole", []Region{{0, 0x9f000}, low, high}, 3 * gib, 64 * gib, []Region{high}, nil},
		// The heap's block reaches past above: it is never handed out twice.
		{"heap block straddles above", []Region{low, high}, 2 * gib, 64 * gib, []Region{high}, nil},
		{"cut at the map's end", []Region{low, {4 * gib, 80 * gib}}, 3 * gib, 64 * gib,
			[]Region{{4 * gib, 64 * gib}}, []Region{{64 * gib, 80 * gib}}},
		{"wholly beyond the map", []Region{low, high, {70 * gib, 72 * gib}}, 3 * gib, 64 * gib,
			[]Region{high}, []Region{{70 * gib, 72 * gib}}},
		{"no RAM", nil, 3 * gib, 64 * gib, nil, nil},
	} {
		extra, beyond := ExtraHeap(tc.usable, tc.above, tc.limit)
		if !reflect.DeepEqual(extra, tc.extra) || !reflect.DeepEqual(beyond, tc.beyond) {
			t.Errorf("%s: got %v beyond %v, want %v beyond %v", tc.name, extra, beyond, tc.extra, tc.beyond)
		}
	}
}
