"""The operator's view: who waits on and holds each socket, filters, options, words.

inspect puts waiters, holders and notes on a target's records; filters and
options turn command-line text into a selection; render and
shutdown_report make the text and JSON the user reads.  No gdb here.
"""
