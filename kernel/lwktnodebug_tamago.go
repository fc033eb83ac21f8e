//go:build tamago && !lwktdebug

package kernel

// switchCheck is nil without -tags lwktdebug: no check on the switch path.
var switchCheck func(cpu int)
