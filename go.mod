module damselfly

go 1.26.4

require (
	github.com/google/gopacket v1.1.19 // indirect
	github.com/usbarmory/tamago v1.26.5 // indirect
	golang.org/x/arch v0.32.0 // indirect
	golang.org/x/net v0.0.0-20190620200207-3b0461eec859 // indirect
	golang.org/x/sys v0.0.0-20190412213103-97732733099d // indirect
)
