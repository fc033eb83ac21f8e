// This go.mod only keeps the GOROOT files below out of the damselfly module
// (so `go list ./...` in the repository does not see them as packages);
// build.sh does not copy it.
module damselfly.invalid/toolchain/overlay
