package main

// Linux's setns(2) system call number on amd64 (arch/x86/entry/syscalls/
// syscall_64.tbl); the syscall package does not define it.
const sysSetns = 308
