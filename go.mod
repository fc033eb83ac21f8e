module damselfly

go 1.26.4

require (
	github.com/google/gopacket v1.1.19 // indirect
	github.com/usbarmory/tamago v1.26.5 // indirect
	golang.org/x/arch v0.32.0 // indirect
)
