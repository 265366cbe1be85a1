"""Building the Socket records of a process: join.list_sockets.

join picks the way and joins rows to fds: sock_diag (diag, choosing with
plan between exact lookups and dumps) or the /proc tables (tables); records
builds the rows; extended reads the -extended view.  No gdb here.
"""
