package sessioncore

import (
	"math/rand/v2"
	"unsafe"
)

// hashKey returns the hash of key id with seed: the runtime's memory hash (AES-based where the
// CPU has it), the function maphash.String ends in for keys of up to 128 bytes, called
// directly. The top bits choose the shard, the rest the directory entry and the slot.
//
// Note: maphash.String reaches it through three more calls (String, rthashString, rthash):
// about 40 of the ~190 instructions of a Lookup among 1,000 sessions (callgrind), a fifth of
// its path. The runtime keeps memhash linkable with this signature (go.dev/issue/67401).
func hashKey(seed uintptr, id string) uint64 {
	return uint64(memhash(unsafe.Pointer(unsafe.StringData(id)), seed, uintptr(len(id))))
}

// newHashSeed returns a random seed for hashKey.
func newHashSeed() uintptr { return uintptr(rand.Uint64()) }

//go:linkname memhash runtime.memhash
//go:noescape
func memhash(p unsafe.Pointer, h, s uintptr) uintptr
