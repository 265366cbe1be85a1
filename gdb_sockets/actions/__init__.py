"""The shutdown methods and choosing among them.

call (inferior_call, with libc's address from libc_symbols and elf),
syscall (syscall_inject), pidfd (pidfd_copy); choose settles -method,
shutdown_run runs it and reads the result back into an Outcome (outcome).
"""
