"""Readers of the kernel and /proc: text and bytes in, records out.

The /proc/PID/net tables (procnet), /proc/PID entries (procfs, proc_task),
sock_diag over netlink (sockdiag) in the target's network namespace
(netns), fds (fd_dir) and copies of them in gdb (fd_copies) with their
socket options (sockopt), gdbserver's remote files (remote_proc), and the
target itself as gdb sees it (target, the only gdb glue here).
"""
